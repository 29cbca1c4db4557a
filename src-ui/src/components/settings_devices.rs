use peercall_signal::settings::{FieldError, PermissionChoice, Resolution, Settings};
use std::rc::Rc;
use yew::prelude::*;

use crate::call::media::{DeviceError, MediaPreferences};
use crate::components::{CameraPreview, MicMeter, SelectField, Toggle};
use crate::field_errors::message_for;
use crate::hooks::{device_options, use_media_devices, use_preview, use_text, MediaDevice};
use crate::i18n::Text;
use crate::platform::{guidance_for_denied, Host, MediaKind, PermissionState, Platform};

/// Props for [`DevicesSection`].
#[derive(Properties, PartialEq)]
pub struct DevicesSectionProps {
    /// The settings in force.
    pub settings: Settings,
    /// Errors from the last save.
    pub errors: Rc<Vec<FieldError>>,
    /// Saves a changed copy.
    pub on_save: Callback<Settings>,
    /// What the UI runs in (who keeps the permission, how to ask).
    pub platform: Platform,
}

/// What Peercall may use, as far as the shell knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Access {
    camera: PermissionState,
    microphone: PermissionState,
}

/// Camera, microphone and speaker pickers with a live preview and level
/// meter, capture quality, voice processing, and the permission story.
#[function_component(DevicesSection)]
pub fn devices_section(props: &DevicesSectionProps) -> Html {
    let tr = use_text();
    let platform = props.platform.clone();
    let settings = &props.settings;

    // Desktop: ask the shell what is allowed before touching any device, so a
    // refused camera gets guidance instead of a failed capture.
    let access = use_state(|| None::<Access>);
    let access_generation = use_state(|| 0u32);
    let latest_query = use_mut_ref(|| 0u32);
    {
        let access = access.clone();
        let platform = platform.clone();
        use_effect_with(
            (*access_generation, settings.permissions.clone()),
            move |_| {
                // Answers can arrive out of order (IPC commands run concurrently);
                // only the newest question's answer counts.
                let query = {
                    let mut latest = latest_query.borrow_mut();
                    *latest += 1;
                    *latest
                };
                wasm_bindgen_futures::spawn_local(async move {
                    let camera = platform.permission_status(MediaKind::Camera).await;
                    let microphone = platform.permission_status(MediaKind::Microphone).await;
                    if *latest_query.borrow() == query {
                        access.set(Some(Access { camera, microphone }));
                    }
                });
            },
        );
    }
    let needs_prompt = platform.host == Host::Desktop
        && access.is_some_and(|a| {
            a.camera == PermissionState::Prompt || a.microphone == PermissionState::Prompt
        });
    let mut preferences = MediaPreferences::from_settings(settings);
    if platform.host == Host::Desktop {
        let allowed = |s: PermissionState| s == PermissionState::Granted;
        preferences.want_camera = access.is_some_and(|a| allowed(a.camera));
        preferences.want_microphone = access.is_some_and(|a| allowed(a.microphone));
    }
    let preview_enabled = access.is_some()
        && !needs_prompt
        && (preferences.want_camera || preferences.want_microphone);
    let preview = use_preview(preview_enabled, preferences);
    let devices = use_media_devices(preview.generation, platform.engine.is_native());

    let on_allow = {
        let platform = platform.clone();
        let access_generation = access_generation.clone();
        Callback::from(move |_| {
            let platform = platform.clone();
            let access_generation = access_generation.clone();
            wasm_bindgen_futures::spawn_local(async move {
                platform.request_permission(MediaKind::Camera).await;
                platform.request_permission(MediaKind::Microphone).await;
                access_generation.set(*access_generation + 1);
            });
        })
    };

    let choose = |change: fn(&mut Settings, Option<String>)| {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |value: String| {
            let mut next = settings.clone();
            change(&mut next, (!value.is_empty()).then_some(value));
            on_save.emit(next);
        })
    };
    let toggle = |change: fn(&mut Settings, bool)| {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |value: bool| {
            let mut next = settings.clone();
            change(&mut next, value);
            on_save.emit(next);
        })
    };
    let options = |list: &[MediaDevice], unnamed: Text| {
        device_options(list, tr(Text::SystemDefault), tr(unnamed))
    };

    // Why there is no picture / sound, in words, with what to do.
    let denied = |kind_denied: bool, error: Option<DeviceError>| {
        kind_denied || error == Some(DeviceError::Denied)
    };
    let camera_denied = denied(
        access
            .is_some_and(|a| a.camera == PermissionState::Denied && platform.host == Host::Desktop),
        preview.camera_error,
    );
    let mic_denied = denied(
        access.is_some_and(|a| {
            a.microphone == PermissionState::Denied && platform.host == Host::Desktop
        }),
        preview.mic_error,
    );
    let camera_message = if camera_denied {
        Some(Text::CameraDenied)
    } else {
        preview.camera_error.map(|e| match e {
            DeviceError::Missing => Text::CameraMissing,
            DeviceError::Busy => Text::CameraBusy,
            DeviceError::Denied => Text::CameraDenied,
            _ => Text::CameraFailed,
        })
    };
    let mic_message = if mic_denied {
        Some(Text::MicDenied)
    } else {
        preview.mic_error.map(|e| match e {
            DeviceError::Missing => Text::MicMissing,
            DeviceError::Busy => Text::MicBusy,
            DeviceError::Denied => Text::MicDenied,
            DeviceError::Unsupported | DeviceError::Failed => Text::MicFailed,
        })
    };
    let guidance = (camera_denied || mic_denied).then(|| guidance_for_denied(platform.host));
    let overlay = if needs_prompt {
        html! {}
    } else if preview.opening {
        html! { <p class="preview-status"><span class="spinner" />{ tr(Text::PreviewOpening) }</p> }
    } else if let Some(message) = camera_message {
        html! { <p class="preview-status" id="camera-message">{ tr(message) }</p> }
    } else {
        html! { <p class="preview-status">{ tr(Text::PreviewOff) }</p> }
    };
    let shows_switches = platform.host == Host::Desktop && !crate::platform::is_macos();
    let frame_rate_error = message_for(&props.errors, "video");

    html! {
        <section class="settings-section" aria-labelledby="section-devices" id="devices-section"
            data-access={access.map(|a| format!("{:?}/{:?}", a.camera, a.microphone).to_lowercase())}>
            <h2 id="section-devices">{ tr(Text::SectionDevices) }</h2>
            if needs_prompt {
                <div class="notice" id="permission-prompt">
                    <div class="notice-body">
                        <h2>{ tr(Text::PermissionPromptTitle) }</h2>
                        <p>{ tr(Text::PermissionPromptBody) }</p>
                    </div>
                    <button class="button primary" id="allow-media" onclick={on_allow}>{ tr(Text::AllowAccess) }</button>
                </div>
            }
            if let Some(guidance) = guidance {
                <div class="notice error" id="permission-guidance" role="alert">
                    <div class="notice-body">
                        if camera_denied { <h2>{ tr(Text::CameraDenied) }</h2> }
                        if mic_denied && !camera_denied { <h2>{ tr(Text::MicDenied) }</h2> }
                        <p>{ tr(guidance) }</p>
                    </div>
                </div>
            }
            <div class="devices-grid">
                <div class="devices-preview">
                    <CameraPreview video={preview.video.clone()}>{ overlay }</CameraPreview>
                    // The native engine keeps the sound in the shell: no
                    // level to show in the page.
                    if !platform.engine.is_native() {
                        <div class="mic-row">
                            <span class="mic-row-label">{ tr(Text::MicLevel) }</span>
                            <MicMeter stream={preview.stream()} label={tr(Text::MicLevel)} />
                        </div>
                    }
                    if let Some(message) = mic_message {
                        <p class="field-error" id="mic-message">{ tr(message) }</p>
                    }
                </div>
                <div class="devices-pickers">
                    <SelectField id="camera-select" label={tr(Text::Camera)}
                        options={options(&devices.cameras, Text::Camera)}
                        selected={settings.devices.camera.clone().unwrap_or_default()}
                        on_change={choose(|s, v| s.devices.camera = v)} />
                    <SelectField id="microphone-select" label={tr(Text::Microphone)}
                        options={options(&devices.microphones, Text::Microphone)}
                        selected={settings.devices.microphone.clone().unwrap_or_default()}
                        on_change={choose(|s, v| s.devices.microphone = v)} />
                    <SelectField id="speaker-select" label={tr(Text::Speaker)}
                        options={options(&devices.speakers, Text::Speaker)}
                        selected={settings.devices.speaker.clone().unwrap_or_default()}
                        on_change={choose(|s, v| s.devices.speaker = v)} />
                    <div class="field-pair">
                        <SelectField id="resolution-select" label={tr(Text::Resolution)}
                            options={Resolution::ALL.iter().map(|r| (resolution_key(*r).to_owned(), format!("{}p", r.size().1))).collect::<Vec<_>>()}
                            selected={resolution_key(settings.video.resolution).to_owned()}
                            on_change={choose(|s, v| s.video.resolution = Resolution::ALL.into_iter()
                                .find(|r| Some(resolution_key(*r)) == v.as_deref()).unwrap_or_default())} />
                        <SelectField id="frame-rate-select" label={tr(Text::FrameRate)}
                            options={[15u32, 24, 30, 60].iter().map(|f| (f.to_string(), format!("{f} fps"))).collect::<Vec<_>>()}
                            selected={settings.video.frame_rate.to_string()}
                            error={frame_rate_error.map(|t| AttrValue::from(tr(t)))}
                            on_change={choose(|s, v| s.video.frame_rate = v.and_then(|v| v.parse().ok()).unwrap_or(0))} />
                    </div>
                </div>
            </div>
            <div class="toggles">
                <Toggle id="echo-cancellation" label={tr(Text::EchoCancellation)} hint={tr(Text::EchoCancellationHint)}
                    checked={settings.audio.echo_cancellation} on_change={toggle(|s, v| s.audio.echo_cancellation = v)} />
                <Toggle id="noise-suppression" label={tr(Text::NoiseSuppression)} hint={tr(Text::NoiseSuppressionHint)}
                    checked={settings.audio.noise_suppression} on_change={toggle(|s, v| s.audio.noise_suppression = v)} />
                <Toggle id="auto-gain" label={tr(Text::AutoGain)} hint={tr(Text::AutoGainHint)}
                    checked={settings.audio.auto_gain} on_change={toggle(|s, v| s.audio.auto_gain = v)} />
                <Toggle id="start-muted" label={tr(Text::StartMuted)}
                    checked={settings.start_muted} on_change={toggle(|s, v| s.start_muted = v)} />
                <Toggle id="start-camera-off" label={tr(Text::StartCameraOff)}
                    checked={settings.start_camera_off} on_change={toggle(|s, v| s.start_camera_off = v)} />
                if shows_switches {
                    <Toggle id="allow-camera" label={tr(Text::AllowCamera)}
                        checked={settings.permissions.camera != PermissionChoice::Deny}
                        on_change={toggle(|s, v| s.permissions.camera = if v { PermissionChoice::Allow } else { PermissionChoice::Deny })} />
                    <Toggle id="allow-microphone" label={tr(Text::AllowMicrophone)}
                        checked={settings.permissions.microphone != PermissionChoice::Deny}
                        on_change={toggle(|s, v| s.permissions.microphone = if v { PermissionChoice::Allow } else { PermissionChoice::Deny })} />
                }
            </div>
        </section>
    }
}

fn resolution_key(resolution: Resolution) -> &'static str {
    match resolution {
        Resolution::P360 => "360",
        Resolution::P480 => "480",
        Resolution::P720 => "720",
        Resolution::P1080 => "1080",
    }
}
