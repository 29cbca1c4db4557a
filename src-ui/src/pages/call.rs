//! The call screen: a lobby when we don't know your name yet, then the
//! tiles, the control bar and the chat; the "call ended" card after.

use peercall_signal::address::PageAddress;
use peercall_signal::settings::Settings;
use yew::prelude::*;

use crate::call::{CallOptions, CallPhase, CallTarget, DirectRole, MediaPreferences, VideoSource};
use crate::call_state::{CallAction, CallState};
use crate::components::{
    CallEnded, CallHeader, CallToasts, ChatPanel, ControlBar, DeviceMenu, Icon, IconKind,
    MediaNotice, NameField, PeerDetails, ScreenBanner, TopBar, TransferList, VideoTile,
    WaitingCard,
};
use crate::hooks::{
    use_engine, use_file_send, use_preview, use_quality, use_screen_share, use_settings_store,
    use_shortcuts, use_speaking, use_text,
};
use crate::i18n::{fill, Text, ToolText};
use crate::platform::use_platform;
use crate::state::{use_app, Action, Page, ServerStatus, SignalStatus};

/// Props for [`CallPage`].
#[derive(Properties, PartialEq)]
pub struct CallPageProps {
    /// Who the call is with.
    pub target: CallTarget,
    /// The room's password, if it has one.
    #[prop_or_default]
    pub password: Option<String>,
}

/// The call screen.
#[function_component(CallPage)]
pub fn call_page(props: &CallPageProps) -> Html {
    let app = use_app();
    // An invite link opened without a name stops in the lobby first. Whether
    // we know the name is decided once, when the settings (which may hold
    // it) have loaded, so typing in the lobby doesn't join by itself.
    let entered = use_state(|| None::<bool>);
    {
        let entered = entered.clone();
        let known = app.settings_loaded || app.name.is_some();
        let has_name = !app.display_name().is_empty();
        use_effect_with(known, move |known| {
            if *known && entered.is_none() {
                entered.set(Some(has_name));
            }
        });
    }
    match *entered {
        Some(true) => {
            html! { <InCall target={props.target.clone()} password={props.password.clone()} /> }
        }
        Some(false) => {
            let on_join = {
                let entered = entered.clone();
                Callback::from(move |_| entered.set(Some(true)))
            };
            html! { <Lobby target={props.target.clone()} {on_join} /> }
        }
        None => html! { <main class="call-page" id="call" data-phase="starting" /> },
    }
}

/// Props for [`Lobby`].
#[derive(Properties, PartialEq)]
struct LobbyProps {
    target: CallTarget,
    on_join: Callback<()>,
}

/// "Ready to join?": your camera, your name, and the join button.
#[function_component(Lobby)]
fn lobby(props: &LobbyProps) -> Html {
    let tr = use_text();
    let app = use_app();
    let platform = use_platform();
    let preferences = MediaPreferences::from_settings(&app.settings);
    let preview = use_preview(platform.can_preview(), preferences);
    let name = app.display_name();
    let typed = app.typed_name();
    let missing = use_state(|| false);
    let store = use_settings_store();
    let on_name = {
        let app = app.clone();
        let missing = missing.clone();
        Callback::from(move |typed: String| {
            missing.set(false);
            app.dispatch(Action::SetName(typed));
        })
    };
    let onsubmit = {
        let on_join = props.on_join.clone();
        let missing = missing.clone();
        let app = app.clone();
        let store = store.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let name = app.display_name();
            if name.is_empty() {
                missing.set(true);
                return;
            }
            store.remember_name(name);
            on_join.emit(());
        })
    };
    let room = match &props.target {
        CallTarget::Room(room) => room.clone(),
        CallTarget::Direct { peer, .. } => peer.to_string(),
    };
    html! {
        <>
            <TopBar />
            <main class="lobby" id="lobby" data-room={room.clone()}>
                <section class="lobby-card">
                    <div class="lobby-preview">
                        <VideoTile video={preview.video.clone()} name={name.clone()} audio_muted={preview.mic_error.is_some()}
                            video_muted={preview.camera_error.is_some()} opening={preview.opening}
                            class={classes!("preview")} />
                    </div>
                    <form class="lobby-form" onsubmit={onsubmit} novalidate=true>
                        <h1>{ tr(Text::ReadyToJoin) }</h1>
                        <p class="lobby-room"><span class="call-room-label">{ tr(Text::CallRoom) }</span>
                            <span class="call-room-code">{ room }</span></p>
                        <NameField value={typed} on_change={on_name} missing={*missing} />
                        <button id="join-now" type="submit" class="button primary large">
                            <span>{ tr(Text::JoinNow) }</span>
                            <Icon kind={IconKind::ArrowRight} size={20} />
                        </button>
                    </form>
                </section>
            </main>
        </>
    }
}

/// Props for [`InCall`].
#[derive(Properties, PartialEq)]
struct InCallProps {
    target: CallTarget,
    password: Option<String>,
}

/// The call itself.
#[function_component(InCall)]
fn in_call(props: &InCallProps) -> Html {
    let tr = use_text();
    let app = use_app();
    let engine = use_engine();
    let platform = use_platform();
    let native = platform.engine.is_native();
    let store = use_settings_store();
    let call = use_reducer(CallState::default);
    let attempt = use_state(|| 0u32);
    let devices_open = use_state(|| false);
    let screen = use_screen_share(engine.clone(), &call);
    let files = use_file_send(engine.clone());

    // Another camera or microphone chosen during the call: swap the tracks
    // in place (the first run is the call's own start, nothing to switch).
    {
        let engine = engine.clone();
        let preferences = MediaPreferences::from_settings(&app.settings);
        let chosen = (
            app.settings.devices.camera.clone(),
            app.settings.devices.microphone.clone(),
        );
        let first = use_mut_ref(|| true);
        use_effect_with(chosen, move |_| {
            if !std::mem::replace(&mut *first.borrow_mut(), false) {
                engine.switch_devices(preferences);
            }
        });
    }
    let toggle_devices = {
        let devices_open = devices_open.clone();
        Callback::from(move |_| devices_open.set(!*devices_open))
    };
    let choose_devices = {
        let store = store.clone();
        Callback::from(move |settings: Settings| store.save_quietly(settings))
    };

    // The call runs while this page shows (and settings are known); a new
    // attempt (rejoin, call again) starts a fresh one.
    {
        let engine = engine.clone();
        let dispatcher = call.dispatcher();
        let options = CallOptions {
            name: app.display_name(),
            preferences: MediaPreferences::from_settings(&app.settings),
            start_muted: app.settings.start_muted,
            start_camera_off: app.settings.start_camera_off,
            password: props.password.clone(),
        };
        use_effect_with(
            (props.target.clone(), *attempt, app.settings_loaded),
            move |(target, _, loaded)| {
                let token = loaded.then(|| {
                    dispatcher.dispatch(CallAction::Reset);
                    let events = dispatcher.clone();
                    engine.start(
                        target.clone(),
                        options,
                        Callback::from(move |event| events.dispatch(CallAction::Engine(event))),
                    )
                });
                move || {
                    if let Some(token) = token {
                        engine.end_call(token);
                    }
                }
            },
        );
    }

    let toggle_mic = {
        let engine = engine.clone();
        let call = call.clone();
        Callback::from(move |_| engine.set_mic_muted(!call.local.audio_muted))
    };
    let toggle_camera = {
        let engine = engine.clone();
        let call = call.clone();
        Callback::from(move |_| engine.set_camera_on(call.local.video_muted))
    };
    let toggle_chat = {
        let call = call.clone();
        Callback::from(move |_| call.dispatch(CallAction::ToggleChat))
    };
    let close_chat = {
        let call = call.clone();
        Callback::from(move |_| call.dispatch(CallAction::CloseChat))
    };
    let hang_up = {
        let engine = engine.clone();
        Callback::from(move |_| engine.hang_up())
    };
    let send_chat = {
        let engine = engine.clone();
        Callback::from(move |text: String| engine.send_chat(&text))
    };
    let dismiss_notice = {
        let call = call.clone();
        Callback::from(move |_| call.dispatch(CallAction::DismissNotice))
    };
    let dismiss_toast = {
        let call = call.clone();
        Callback::from(move |seq| call.dispatch(CallAction::DismissToast(seq)))
    };
    let go_home = {
        let app = app.clone();
        let engine = engine.clone();
        Callback::from(move |_| {
            engine.end();
            app.dispatch(Action::Navigate(Page::Home));
        })
    };
    // Rejoin a room, or ring the other person (again, or back when they
    // had called us).
    let again = {
        let attempt = attempt.clone();
        let app = app.clone();
        let target = props.target.clone();
        Callback::from(move |_| match &target {
            CallTarget::Direct {
                peer,
                name,
                role: DirectRole::Callee,
            } => app.dispatch(Action::Navigate(Page::Direct {
                peer: peer.clone(),
                name: name.clone(),
                role: DirectRole::Caller,
            })),
            _ => attempt.set(*attempt + 1),
        })
    };
    {
        let in_call = !matches!(call.phase, CallPhase::Ended(_));
        let (toggle_screen, can_share) = (screen.toggle.clone(), screen.can_share);
        let shortcuts = use_memo(in_call, |in_call| {
            let (in_call, call) = (*in_call, call.clone());
            let (toggle_mic, toggle_camera) = (toggle_mic.clone(), toggle_camera.clone());
            Callback::from(move |key: String| {
                match key.as_str() {
                    "m" if in_call => toggle_mic.emit(()),
                    "v" if in_call => toggle_camera.emit(()),
                    "c" if in_call => call.dispatch(CallAction::ToggleChat),
                    "s" if in_call && can_share => toggle_screen.emit(()),
                    "escape" => {
                        call.dispatch(CallAction::CloseChat);
                        call.dispatch(CallAction::CloseDetails);
                    }
                    _ => return false,
                }
                true
            })
        });
        use_shortcuts((*shortcuts).clone());
    }

    // A direct call shows the other person by name (from their tile, what
    // they told us while ringing, or their ring); their id is only a detail
    // under it, and the name stays empty until someone gave one.
    let (partner_name, partner_id) = match &props.target {
        CallTarget::Direct { peer, name, .. } => (
            call.peers
                .first()
                .map(|p| p.name.clone())
                .filter(|n| !n.is_empty())
                .or_else(|| call.partner_name.clone())
                .or_else(|| name.clone().filter(|n| !n.is_empty()))
                .unwrap_or_default(),
            peer.to_string(),
        ),
        CallTarget::Room(_) => (String::new(), String::new()),
    };
    let named = |text: Text, unnamed: Text| {
        if partner_name.is_empty() {
            tr(unnamed).to_owned()
        } else {
            fill(tr(text), &partner_name)
        }
    };
    let direct = matches!(props.target, CallTarget::Direct { .. });

    // The tools: quality (panel and badges) and who is talking.
    let keys: Vec<u32> = call.peers.iter().map(|p| p.key).collect();
    let quality = use_quality(engine.clone(), keys, call.details);
    let speaking = use_speaking(
        engine.clone(),
        match &call.local.video {
            Some(VideoSource::Stream(stream)) => Some(Clone::clone(stream)),
            _ => None,
        },
        !call.local.audio_muted,
    );

    if let CallPhase::Ended(reason) = call.phase {
        return html! {
            <>
                <TopBar />
                <main class="call-ended-page" id="call" data-phase="ended">
                    <CallEnded {reason} name={partner_name} {direct} on_again={again} on_home={go_home} />
                </main>
            </>
        };
    }

    let room = match &props.target {
        CallTarget::Room(room) => Some(room.clone()),
        CallTarget::Direct { .. } => None,
    };
    let invite = match (&room, &app.page, &app.server) {
        (
            Some(room),
            Page::Call {
                via: Some(remote), ..
            },
            _,
        ) => peercall_signal::address::invite_for_server(&remote.ws_url, room),
        (Some(room), _, ServerStatus::Ready(info)) => Some(invite_link(&info.page_url, room)),
        _ => None,
    };
    let me = app.display_name();
    let local = &call.local;
    // One keyed list in every layout, so changing layout never remounts a
    // tile (a remounted <video> restarts its playback, and Chromium may
    // re-pipeline the camera it shows).
    let others = call.peers.len();
    let (stage_class, style, remote_class, self_class, remote_avatar, self_avatar) = match others {
        // A shared screen takes the stage; cameras go small beside it.
        _ if screen.shown.is_some() => ("present", String::new(), "", "", 48, 48),
        0 => ("solo", String::new(), "", "spotlight", 96, 120),
        1 => ("duo", String::new(), "spotlight", "pip", 128, 48),
        n => {
            let count = n + 1;
            let cols = (count as f64).sqrt().ceil() as usize;
            let rows = count.div_ceil(cols);
            (
                "grid",
                format!("--cols:{cols};--rows:{rows}"),
                "",
                "",
                88,
                88,
            )
        }
    };
    let mut tiles: Vec<Html> = screen
        .shown
        .iter()
        .map(|(stream, name)| {
            html! {
                <VideoTile key="screen" video={Some(VideoSource::Stream(Clone::clone(stream)))} name={name.clone()} screen=true
                    audio_muted=false video_muted=false />
            }
        })
        .collect();
    tiles.extend(call
        .peers
        .iter()
        .map(|peer| {
            let on_details = {
                let (call, key) = (call.clone(), peer.key);
                Callback::from(move |_| call.dispatch(CallAction::OpenDetails(key)))
            };
            // A grid (3 people or more) keeps the last speaker in its
            // first place, in view however small the tiles get.
            let first = others >= 2 && speaking.last == Some(peer.key);
            html! {
                <VideoTile key={peer.key} video={peer.video.clone()} name={peer.name.clone()}
                    speaking={speaking.keys.contains(&peer.key)} on_details={Some(on_details)}
                    quality={quality.get(&peer.key).map(|q| q.level)}
                    style={first.then_some(AttrValue::Static("order:-1"))}
                    peer_id={AttrValue::from(peer.id.to_string())} audio_muted={peer.audio_muted}
                    video_muted={peer.video_muted} state={Some(peer.state)} class={classes!(remote_class)}
                    avatar_size={remote_avatar}
                    speaker={app.settings.devices.speaker.clone().map(AttrValue::from)} />
            }
        }));
    tiles.push(html! {
        <VideoTile key="self" video={local.video.clone()} name={me.clone()} audio_muted={local.audio_muted}
            video_muted={local.video_muted} opening={local.opening} class={classes!(self_class)}
            avatar_size={self_avatar} speaking={speaking.me && !local.audio_muted} />
    });

    // What we're waiting for, in words.
    let waiting = if others > 0 {
        None
    } else if call.phase == CallPhase::Ringing {
        Some(html! {
            <div class="stage-card" id="ringing" role="status">
                <div class="prompt-avatar ringing"><crate::components::Avatar name={partner_name.clone()} size={72} /></div>
                <h2 id="ringing-name">{ named(Text::CallingName, Text::CallingUnnamed) }</h2>
                <p class="peer-id" id="ringing-id">{ fill(tr(Text::PeerIdDetail), &partner_id) }</p>
                <p class="hint">{ tr(Text::CallingHint) }</p>
                <button id="cancel-call" class="button danger" onclick={hang_up.reform(|_| ())}>
                    <Icon kind={IconKind::HangUp} size={18} /><span>{ tr(Text::Cancel) }</span>
                </button>
            </div>
        })
    } else if call.phase == CallPhase::Preparing {
        let words = if local.opening {
            Text::PreparingMedia
        } else if !matches!(app.signal, SignalStatus::Online(_)) {
            Text::SignalConnecting
        } else {
            Text::JoiningCall
        };
        Some(html! {
            <div class="stage-card delayed" id="preparing" role="status">
                <span class="spinner large" />
                <h2>{ tr(words) }</h2>
            </div>
        })
    } else if !direct {
        Some(html! { <WaitingCard invite={invite.clone().map(AttrValue::from)} /> })
    } else {
        Some(html! {
            <div class="stage-card delayed" id="preparing" role="status">
                <span class="spinner large" />
                <h2>{ named(Text::ConnectingTo, Text::ConnectingUnnamed) }</h2>
            </div>
        })
    };

    let show_notice = !call.notice_dismissed
        && !local.opening
        && (local.camera_error.is_some() || local.mic_error.is_some());
    let title = room.clone().unwrap_or_else(|| {
        if partner_name.is_empty() {
            partner_id.clone()
        } else {
            partner_name.clone()
        }
    });
    let details = call.details.and_then(|key| {
        let peer = call.peers.iter().find(|p| p.key == key)?;
        let seen = call.safety_of(key);
        let call = call.clone();
        Some(html! {
            <PeerDetails name={peer.name.clone()} peer_key={key}
                safety_code={peer.safety_code.clone().map(AttrValue::from)}
                safety_changed={seen.is_some_and(|s| s.changed)}
                quality={quality.get(&key).cloned()}
                on_close={Callback::from(move |_| call.dispatch(CallAction::CloseDetails))}
                unavailable={native.then(|| AttrValue::Static(tr(Text::Tool(ToolText::NativeTools))))}
                on_send_file={(!native).then(|| files.pick.reform(move |_| Some(key)))} />
        })
    });
    let phase = match call.phase {
        CallPhase::Preparing => "preparing",
        CallPhase::Ringing => "ringing",
        CallPhase::Joined => "joined",
        CallPhase::Ended(_) => "ended",
    };

    html! {
        <div class={classes!("call-page", call.chat_open.then_some("chat-open"))} id="call" data-phase={phase}
            data-room={room.clone()}>
            <CallHeader title={title} room={room.map(AttrValue::from)} invite={invite.map(AttrValue::from)}
                signal={app.signal.clone()} people={others + 1} />
            <div class="call-body">
                <main class={classes!("stage", stage_class)} {style} data-people={(others + 1).to_string()}
                    ondragover={files.on_drag_over.clone()} ondrop={files.on_drop.clone()}>
                    <input type="file" id="file-input" class="file-input" ref={files.input.clone()}
                        onchange={files.on_change.clone()} tabindex="-1" aria-label={tr(Text::Tool(ToolText::FileDrop))} />
                    { for tiles }
                    { for waiting }
                    <CallToasts toasts={call.toasts.clone()} on_dismiss={dismiss_toast} />
                    <TransferList transfers={call.transfers.clone()}
                        on_answer={{ let e = engine.clone(); Callback::from(move |(id, accept)| e.answer_file(id, accept)) }}
                        on_cancel={{ let e = engine.clone(); Callback::from(move |id| e.cancel_file(id)) }}
                        on_dismiss={{ let c = call.clone(); Callback::from(move |id| c.dispatch(CallAction::DismissTransfer(id))) }} />
                    <ScreenBanner sharing={screen.sharing} failed={call.screen_failed}
                        on_stop={screen.toggle.clone()} on_dismiss={dismiss_notice.clone()} />
                    if show_notice {
                        <MediaNotice camera_error={local.camera_error} mic_error={local.mic_error} on_dismiss={dismiss_notice} host={platform.host} />
                    }
                </main>
                { for details }
                <ChatPanel lines={call.chat.clone()} open={call.chat_open} can_send={call.anyone_connected()}
                    on_send={send_chat} on_close={close_chat} />
            </div>
            <ControlBar audio_muted={local.audio_muted} video_muted={local.video_muted}
                mic_available={local.mic_error.is_none()}
                camera_busy={local.opening} chat_open={call.chat_open} unread={call.unread}
                on_toggle_mic={toggle_mic} on_toggle_camera={toggle_camera}
                on_toggle_chat={toggle_chat} on_hang_up={hang_up}
                devices_open={*devices_open} on_toggle_devices={toggle_devices.clone()}
                can_share={screen.can_share} sharing={screen.sharing} share_blocked={screen.blocked.clone()}
                on_toggle_screen={screen.toggle.clone()}
                on_send_file={(call.anyone_connected() && !native).then(|| files.pick.reform(|_| None))} />
            if *devices_open {
                <DeviceMenu settings={app.settings.clone()} on_change={choose_devices}
                    on_close={toggle_devices} native={platform.engine.is_native()} />
            }
        </div>
    }
}

/// The link that opens this room in a browser.
fn invite_link(page_url: &str, room: &str) -> String {
    let separator = if page_url.contains('?') { '&' } else { '?' };
    format!(
        "{page_url}{separator}{}",
        PageAddress::room(room).to_query()
    )
}
