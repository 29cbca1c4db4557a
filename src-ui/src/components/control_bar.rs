use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{Text, ToolText};

/// Props for [`ControlBar`].
#[derive(Properties, PartialEq)]
pub struct ControlBarProps {
    /// Microphone muted.
    pub audio_muted: bool,
    /// Camera off.
    pub video_muted: bool,
    /// There is a microphone to unmute.
    pub mic_available: bool,
    /// The camera is being opened.
    #[prop_or_default]
    pub camera_busy: bool,
    /// The chat panel is open.
    pub chat_open: bool,
    /// Chat lines not seen yet.
    pub unread: u32,
    /// Mute or unmute.
    pub on_toggle_mic: Callback<()>,
    /// Camera off or on.
    pub on_toggle_camera: Callback<()>,
    /// Open or close chat.
    pub on_toggle_chat: Callback<()>,
    /// Leave.
    pub on_hang_up: Callback<()>,
    /// The camera/microphone chooser is open.
    #[prop_or_default]
    pub devices_open: bool,
    /// Open or close the camera/microphone chooser.
    pub on_toggle_devices: Callback<()>,
    /// The engine can share a screen (otherwise there is no button).
    #[prop_or_default]
    pub can_share: bool,
    /// We share our screen.
    #[prop_or_default]
    pub sharing: bool,
    /// Someone else shares theirs: why the button is off.
    #[prop_or_default]
    pub share_blocked: Option<AttrValue>,
    /// Start or stop sharing.
    #[prop_or_default]
    pub on_toggle_screen: Callback<()>,
    /// Send a file to everyone (`None`: nobody to send to).
    #[prop_or_default]
    pub on_send_file: Option<Callback<()>>,
}

/// The round buttons at the bottom of a call, each with a tooltip naming
/// its keyboard shortcut.
#[function_component(ControlBar)]
pub fn control_bar(props: &ControlBarProps) -> Html {
    let tr = use_text();
    let click = |cb: &Callback<()>| {
        let cb = cb.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    let mic_label = if props.audio_muted {
        tr(Text::Unmute)
    } else {
        tr(Text::Mute)
    };
    let camera_label = if props.video_muted {
        tr(Text::CameraOn)
    } else {
        tr(Text::CameraOff)
    };
    let chat_label = if props.chat_open {
        tr(Text::ChatClose)
    } else {
        tr(Text::ChatOpen)
    };
    let leave_label = tr(Text::LeaveCall);
    html! {
        <nav class="control-bar" aria-label={tr(Text::PeopleInCall)}>
            <button id="mute" class={classes!("control", props.audio_muted.then_some("off"))}
                aria-label={format!("{mic_label} (M)")} data-tooltip={format!("{mic_label} · M")}
                aria-pressed={props.audio_muted.to_string()} disabled={!props.mic_available}
                onclick={click(&props.on_toggle_mic)}>
                <Icon kind={if props.audio_muted { IconKind::MicOff } else { IconKind::Mic }} size={22} />
            </button>
            <button id="camera" class={classes!("control", props.video_muted.then_some("off"), props.camera_busy.then_some("busy"))}
                aria-label={format!("{camera_label} (V)")} data-tooltip={format!("{camera_label} · V")}
                aria-pressed={props.video_muted.to_string()} disabled={props.camera_busy}
                onclick={click(&props.on_toggle_camera)}>
                <Icon kind={if props.video_muted { IconKind::CameraOff } else { IconKind::Camera }} size={22} />
            </button>
            <button id="devices-toggle" class={classes!("control", props.devices_open.then_some("active"))}
                aria-label={tr(Text::ChooseDevices)} data-tooltip={tr(Text::ChooseDevices)}
                aria-expanded={props.devices_open.to_string()} aria-controls="device-menu"
                onclick={click(&props.on_toggle_devices)}>
                <Icon kind={IconKind::Settings} size={22} />
            </button>
            if props.can_share {
                { screen_button(props, &tr) }
            }
            if let Some(on_send_file) = &props.on_send_file {
                <button id="send-file" class="control" aria-label={tr(Text::Tool(ToolText::SendFile))}
                    data-tooltip={tr(Text::Tool(ToolText::SendFile))} onclick={click(on_send_file)}>
                    <Icon kind={IconKind::Paperclip} size={22} />
                </button>
            }
            <button id="chat-toggle" class={classes!("control", props.chat_open.then_some("active"))}
                aria-label={format!("{chat_label} (C)")} data-tooltip={format!("{chat_label} · C")}
                aria-expanded={props.chat_open.to_string()} aria-controls="chat-panel"
                onclick={click(&props.on_toggle_chat)}>
                <Icon kind={IconKind::Chat} size={22} />
                if props.unread > 0 && !props.chat_open {
                    <span id="chat-unread" class="control-count"
                        aria-label={format!("{} {}", props.unread, tr(Text::UnreadMessages))}>
                        { props.unread.min(99) }
                    </span>
                }
            </button>
            <button id="hang-up" class="control hang-up" aria-label={leave_label}
                data-tooltip={leave_label} onclick={click(&props.on_hang_up)}>
                <Icon kind={IconKind::HangUp} size={26} />
            </button>
        </nav>
    }
}

/// Share the screen, or stop: the button shows which, and when someone else
/// shares it is off and says so.
fn screen_button(props: &ControlBarProps, tr: &impl Fn(Text) -> &'static str) -> Html {
    let label = match (&props.share_blocked, props.sharing) {
        (Some(blocked), false) => blocked.to_string(),
        (_, true) => format!("{} · S", tr(Text::Tool(ToolText::StopSharing))),
        (None, false) => format!("{} · S", tr(Text::Tool(ToolText::ShareScreen))),
    };
    let cb = props.on_toggle_screen.clone();
    html! {
        <button id="screen-share" class={classes!("control", props.sharing.then_some("active"))}
            aria-label={label.clone()} data-tooltip={label} aria-pressed={props.sharing.to_string()}
            disabled={props.share_blocked.is_some() && !props.sharing}
            onclick={Callback::from(move |_: MouseEvent| cb.emit(()))}>
            <Icon kind={if props.sharing { IconKind::ScreenOff } else { IconKind::Screen }} size={22} />
        </button>
    }
}
