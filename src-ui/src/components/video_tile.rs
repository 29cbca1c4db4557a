use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlVideoElement, MediaStream};
use yew::prelude::*;

use crate::call::quality::Level;
use crate::call::{ConnState, VideoSource};
use crate::components::{Avatar, Icon, IconKind, NativeVideo};
use crate::hooks::use_text;
use crate::i18n::{fill, Text, ToolText};

/// Props for [`VideoTile`].
#[derive(Properties, PartialEq)]
pub struct VideoTileProps {
    /// Their (or our) video: a browser stream (with their audio), or the
    /// native engine's frames (the shell plays the audio).
    pub video: Option<VideoSource>,
    /// The name on the tile.
    pub name: AttrValue,
    /// The participant's signaling id (`None`: this is us).
    #[prop_or_default]
    pub peer_id: Option<AttrValue>,
    /// Microphone muted.
    pub audio_muted: bool,
    /// Camera off.
    pub video_muted: bool,
    /// The connection to them (`None` for us).
    #[prop_or_default]
    pub state: Option<ConnState>,
    /// Layout classes (`pip`, `spotlight`…).
    #[prop_or_default]
    pub class: Classes,
    /// Avatar diameter when the camera is off.
    #[prop_or(96)]
    pub avatar_size: u32,
    /// The camera is still opening (says so instead of showing initials).
    #[prop_or_default]
    pub opening: bool,
    /// Speaker (`deviceId`) their voice plays on; `None` is the system's.
    #[prop_or_default]
    pub speaker: Option<AttrValue>,
    /// They are talking now (a ring around the tile).
    #[prop_or_default]
    pub speaking: bool,
    /// The connection's quality at a glance (remote tiles).
    #[prop_or_default]
    pub quality: Option<Level>,
    /// Opens their connection details (remote tiles: the quality badge is
    /// the button).
    #[prop_or_default]
    pub on_details: Option<Callback<()>>,
    /// Inline style (the grid's `order`).
    #[prop_or_default]
    pub style: Option<AttrValue>,
    /// A shared screen (silent, never mirrored, shown whole).
    #[prop_or_default]
    pub screen: bool,
}

/// One person: their video (ours mirrored and silent), or their initials
/// when the camera is off, with their name, a muted badge and, while it
/// isn't connected, the state of the connection in words.
#[function_component(VideoTile)]
pub fn video_tile(props: &VideoTileProps) -> Html {
    let tr = use_text();
    let video = use_node_ref();
    let sound_blocked = use_state(|| false);
    let is_self = props.peer_id.is_none() && !props.screen;
    let silent = is_self || props.screen;
    let stream: Option<MediaStream> = match &props.video {
        Some(VideoSource::Stream(stream)) => Some(Clone::clone(stream)),
        _ => None,
    };
    {
        let video = video.clone();
        let sound_blocked = sound_blocked.clone();
        use_effect_with(stream, move |stream| {
            let element = video.cast::<HtmlVideoElement>();
            if let Some(element) = &element {
                // Our own voice must never play back; theirs plays here.
                if attach_stream(element, stream.as_ref(), silent) {
                    play(Clone::clone(element), sound_blocked);
                }
            }
            move || detach_stream(element)
        });
    }
    {
        let video = video.clone();
        use_effect_with(props.speaker.clone(), move |speaker| {
            if let Some(element) = video.cast::<HtmlVideoElement>() {
                set_speaker(&element, speaker.as_deref().unwrap_or(""));
            }
        });
    }
    let has_video = !props.video_muted && props.video.as_ref().is_some_and(VideoSource::has_video);
    let name = if props.name.is_empty() {
        AttrValue::from(tr(Text::SomeoneName))
    } else {
        props.name.clone()
    };
    let shown_name = if is_self && !props.screen {
        format!("{} ({})", name, tr(Text::You))
    } else {
        name.to_string()
    };
    let state = props.state.unwrap_or(ConnState::Connected);
    let status = match state {
        ConnState::Connected => None,
        ConnState::Connecting => Some(("connecting", fill(tr(Text::ConnectingTo), &name))),
        ConnState::Reconnecting => Some(("reconnecting", tr(Text::Reconnecting).to_owned())),
        ConnState::Failed => Some(("failed", tr(Text::ConnectionLost).to_owned())),
    };
    let on_unblock = {
        let video = video.clone();
        let sound_blocked = sound_blocked.clone();
        Callback::from(move |_| {
            if let Some(element) = video.cast::<HtmlVideoElement>() {
                element.set_muted(false);
                play(element, sound_blocked.clone());
            }
        })
    };
    let details = props.on_details.clone().map(|on_details| {
        let level = props.quality.map(|l| {
            tr(Text::Tool(match l {
                Level::Good => ToolText::LevelGood,
                Level::Fair => ToolText::LevelFair,
                Level::Poor => ToolText::LevelPoor,
            }))
        });
        let label = match level {
            Some(level) => format!("{} · {level}", tr(Text::Tool(ToolText::DetailsOpen))),
            None => tr(Text::Tool(ToolText::DetailsOpen)).to_owned(),
        };
        html! {
            <button class="tile-quality" data-quality={props.quality.map(Level::as_str)}
                aria-label={label.clone()} title={label} onclick={on_details.reform(|_: MouseEvent| ())}>
                <Icon kind={IconKind::Signal} size={16} />
            </button>
        }
    });
    html! {
        <div class={classes!("tile", is_self.then_some("self"), props.screen.then_some("screen"), (!has_video).then_some("no-video"),
                props.speaking.then_some("speaking"), props.class.clone())}
            style={props.style.clone()}
            data-speaking={props.speaking.to_string()}
            data-peer-id={props.peer_id.clone()}
            data-connection-state={state.as_str()}
            data-audio-muted={props.audio_muted.to_string()}
            data-video-muted={props.video_muted.to_string()}
            aria-label={shown_name.clone()}
            aria-description={props.speaking.then(|| AttrValue::Static(tr(Text::Tool(ToolText::Speaking))))}>
            if let Some(VideoSource::Native { stream, frames }) = &props.video {
                <NativeVideo stream={*stream} frames={frames.clone()} />
            } else {
                <video ref={video} autoplay=true playsinline=true muted={silent} />
            }
            if props.opening && !has_video {
                <div class="tile-status connecting" role="status">
                    <span class="spinner" /><span>{ tr(Text::PreviewOpening) }</span>
                </div>
            } else if !has_video {
                <div class="tile-avatar" title={tr(Text::CameraIsOff)}>
                    <Avatar name={name.clone()} size={props.avatar_size} />
                </div>
            }
            if let Some((kind, words)) = status {
                if kind == "connecting" {
                    <div class="tile-status connecting" role="status">
                        <span class="spinner" /><span>{ words }</span>
                    </div>
                } else {
                    <div class={classes!("tile-badge", kind)} role="status">
                        if kind == "reconnecting" { <span class="spinner" /> }
                        <span>{ words }</span>
                    </div>
                }
            }
            if *sound_blocked && !silent {
                <button class="tile-unblock" onclick={on_unblock}>
                    <Icon kind={IconKind::Volume} size={16} />
                    <span>{ tr(Text::AudioBlocked) }</span>
                </button>
            }
            { for details }
            <div class="tile-name">
                if props.audio_muted {
                    <span class="tile-muted" title={tr(Text::MicMuted)} aria-label={tr(Text::MicMuted)}>
                        <Icon kind={IconKind::MicOff} size={14} />
                    </span>
                }
                <span class="tile-name-text">{ shown_name }</span>
            </div>
        </div>
    }
}

/// Shows `stream` (or nothing) in `element`, muted if `muted`; true if
/// there is a stream to play.
///
/// An element that has nothing to show and never had anything is left
/// alone: setting any media property wakes the engine's media session,
/// which in WebKitGTK registers with the desktop's media controls over
/// D-Bus (MPRIS), and that lookup sometimes kills the web process at start
/// (GLib's `getauxval () failed: Interrupted system call`: its setuid check
/// reads `errno` with JavaScriptCore's thread-suspend signal landing in
/// between). The app's engine on Linux draws on a canvas, so its media
/// elements never play and never need waking.
pub(crate) fn attach_stream(
    element: &HtmlVideoElement,
    stream: Option<&MediaStream>,
    muted: bool,
) -> bool {
    if stream.is_none() && element.src_object().is_none() {
        return false;
    }
    element.set_muted(muted);
    element.set_src_object(stream);
    stream.is_some()
}

/// Lets go of the stream an element showed (it changes, or the tile goes):
/// a detached element would keep its media player, last frame and audio
/// output until the garbage collector finds it, once for every call.
pub(crate) fn detach_stream(element: Option<HtmlVideoElement>) {
    if let Some(element) = element.filter(|e| e.src_object().is_some()) {
        let _ = element.pause();
        element.set_src_object(None);
    }
}

/// Starts playback; if the browser refuses sound without a click, plays
/// muted and offers a button to turn the sound on.
fn play(element: HtmlVideoElement, sound_blocked: UseStateHandle<bool>) {
    let Ok(promise) = element.play() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        match JsFuture::from(promise).await {
            Ok(_) => sound_blocked.set(false),
            Err(error) => {
                if crate::call::js::error_name(&error) == "NotAllowedError" && !element.muted() {
                    element.set_muted(true);
                    if let Ok(promise) = element.play() {
                        let _ = JsFuture::from(promise).await;
                    }
                    sound_blocked.set(true);
                }
            }
        }
    });
}

/// Routes the element's sound to `device` (`""`: the system default) where
/// the engine can choose outputs (`setSinkId`; WebKit cannot, and there the
/// picker lists no speakers).
fn set_speaker(element: &HtmlVideoElement, device: &str) {
    // Already there (the system default, for every new element): nothing to
    // ask; asking anyway restarts the output for nothing.
    let current = crate::call::js::get_string(element, "sinkId").unwrap_or_default();
    if current == device {
        return;
    }
    let Ok(set_sink) = js_sys::Reflect::get(element, &"setSinkId".into()) else {
        return;
    };
    let Ok(set_sink) = set_sink.dyn_into::<js_sys::Function>() else {
        return;
    };
    let promise = set_sink
        .call1(element, &device.into())
        .and_then(|p| p.dyn_into::<js_sys::Promise>());
    let device = device.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        let result = match promise {
            Ok(promise) => JsFuture::from(promise).await.map(drop),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            gloo::console::warn!(format!(
                "setSinkId({device:?}) failed: {}",
                crate::call::js::describe(&error)
            ));
        }
    });
}
