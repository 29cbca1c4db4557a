use yew::prelude::*;

use crate::call::DeviceError;
use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::Text;
use crate::platform::{guidance_for_denied, Host};

/// Props for [`MediaNotice`].
#[derive(Properties, PartialEq)]
pub struct MediaNoticeProps {
    /// Why there is no camera.
    pub camera_error: Option<DeviceError>,
    /// Why there is no microphone.
    pub mic_error: Option<DeviceError>,
    /// Hide it.
    pub on_dismiss: Callback<()>,
    /// What the UI runs in (where refused access is allowed again).
    pub host: Host,
}

/// What went wrong with the camera or microphone, what the call still does
/// without it, and (when access was refused) how to allow it.
#[function_component(MediaNotice)]
pub fn media_notice(props: &MediaNoticeProps) -> Html {
    let tr = use_text();
    let (camera, mic) = (props.camera_error, props.mic_error);
    let message = match (camera, mic) {
        (None, None) => return html! {},
        (Some(_), Some(_)) => Text::NoDevicesInCall,
        (Some(error), None) => match error {
            DeviceError::Missing => Text::CamMissingInCall,
            DeviceError::Busy => Text::CamBusyInCall,
            DeviceError::Denied => Text::CamDeniedInCall,
            DeviceError::Unsupported | DeviceError::Failed => Text::CamFailedInCall,
        },
        (None, Some(error)) => match error {
            DeviceError::Missing => Text::MicMissingInCall,
            DeviceError::Unsupported | DeviceError::Failed => Text::MicFailedInCall,
            DeviceError::Busy => Text::MicBusyInCall,
            DeviceError::Denied => Text::MicDeniedInCall,
        },
    };
    let denied = camera == Some(DeviceError::Denied) || mic == Some(DeviceError::Denied);
    let guidance = denied.then(|| tr(guidance_for_denied(props.host)));
    let on_dismiss = {
        let cb = props.on_dismiss.clone();
        Callback::from(move |_| cb.emit(()))
    };
    html! {
        <div id="media-notice" class="media-notice" role="alert"
            data-camera-error={camera.map(DeviceError::as_str)}
            data-mic-error={mic.map(DeviceError::as_str)}>
            <Icon kind={if camera.is_some() { IconKind::CameraOff } else { IconKind::MicOff }} size={20} />
            <div class="media-notice-text">
                <p>{ tr(message) }</p>
                if let Some(guidance) = guidance {
                    <p class="media-notice-hint">{ guidance }</p>
                }
            </div>
            <button class="icon-button" aria-label={tr(Text::Dismiss)} title={tr(Text::Dismiss)} onclick={on_dismiss}>
                <Icon kind={IconKind::Close} size={18} />
            </button>
        </div>
    }
}
