use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::call::{DirectRole, MediaPreferences};
use crate::components::{
    BrowserOutcome, CallById, Icon, IconKind, NameField, TopBar, VideoTile, WebRtcNotice,
};
use crate::hooks::{use_preview, use_settings_store, use_text};
use crate::i18n::Text;
use crate::pages::network::open_in_browser;
use crate::platform::{use_platform, Host};
use crate::room_code;
use crate::state::{use_app, Action, Page, ServerStatus};
use peercall_signal::address::PageAddress;

/// The first screen: one big "Start a call", a join field, the server state.
#[function_component(HomePage)]
pub fn home_page() -> Html {
    let tr = use_text();
    let platform = use_platform();
    let app = use_app();
    let store = use_settings_store();
    let join_input = use_node_ref();
    let join_error = use_state(|| false);
    let browser_outcome = use_state(|| None::<BrowserOutcome>);
    // Your camera before the call (where this engine can have one).
    let preview = use_preview(
        platform.can_call(),
        MediaPreferences::from_settings(&app.settings),
    );
    let name = app.display_name();

    // Where the webview can't call (WebKitGTK), calls go to the system browser,
    // landing straight in the room; the app keeps hosting.
    let needs_browser = platform.needs_browser();
    let enter_room = {
        let app = app.clone();
        let platform = platform.clone();
        let store = store.clone();
        let browser_outcome = browser_outcome.clone();
        Callback::from(move |room: Option<String>| {
            if needs_browser {
                let address = room.map(|r| PageAddress::room(&r));
                open_in_browser(&platform, address, browser_outcome.clone());
            } else if let Some(room) = room {
                store.remember_name(app.display_name());
                app.dispatch(Action::Navigate(Page::Call { room, via: None }));
            }
        })
    };

    let on_start = {
        let enter_room = enter_room.clone();
        Callback::from(move |_| enter_room.emit(Some(room_code::generate())))
    };
    let on_join = {
        let app = app.clone();
        let enter_room = enter_room.clone();
        let join_input = join_input.clone();
        let join_error = join_error.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let typed = join_input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            // An invite to another server (a LAN host's `peercall://` link, a
            // `ws(s)://` address) goes to the join screen, which checks it.
            if peercall_signal::address::parse(&typed).is_ok() {
                app.dispatch(Action::Navigate(Page::Join {
                    link: Some(typed.trim().to_owned()),
                }));
                return;
            }
            match room_code::normalize(&typed) {
                Some(room) => {
                    join_error.set(false);
                    enter_room.emit(Some(room));
                }
                None => join_error.set(true),
            }
        })
    };
    let on_open_browser = {
        let enter_room = enter_room.clone();
        Callback::from(move |_| enter_room.emit(None))
    };

    let on_host = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::Navigate(Page::Host)))
    };
    let on_find = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::Navigate(Page::Join { link: None })))
    };
    let on_settings = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::Navigate(Page::Settings)))
    };
    let on_name = {
        let app = app.clone();
        Callback::from(move |typed: String| app.dispatch(Action::SetName(typed)))
    };
    let on_call_id = {
        let app = app.clone();
        Callback::from(move |peer| {
            store.remember_name(app.display_name());
            app.dispatch(Action::Navigate(Page::Direct {
                peer,
                name: None,
                role: DirectRole::Caller,
            }));
        })
    };
    let can_call = platform.can_call();
    let server_ready = matches!(app.server, ServerStatus::Ready(_));
    let badge = match &app.server {
        ServerStatus::Starting => html! {
            <span class="badge" id="server-status" data-state="starting"><span class="spinner" />{ tr(Text::ServerStarting) }</span>
        },
        ServerStatus::Ready(info) => html! {
            <span class="badge ok" id="server-status" data-state="ready" data-ws-url={info.ws_url.clone()}
                title={info.ws_url.clone()}>
                <span class="dot" />{ tr(Text::ServerReady) }
            </span>
        },
        ServerStatus::Unavailable => html! {
            <span class="badge error" id="server-status" data-state="unavailable"><span class="dot" />{ tr(Text::ServerUnavailable) }</span>
        },
    };

    html! {
        <>
            <TopBar on_settings={on_settings}>{ badge }</TopBar>
            <main class="home" id="home" data-webrtc={platform.support.can_call().to_string()}
                data-engine={platform.engine.as_str()}>
                if can_call {
                    <section class="home-preview" aria-label={tr(Text::YourName)}>
                        <VideoTile video={preview.video.clone()} name={name.clone()}
                            audio_muted={preview.mic_error.is_some()} video_muted={preview.camera_error.is_some()}
                            opening={preview.opening} class={classes!("preview")} />
                        <NameField value={app.typed_name()} on_change={on_name} />
                    </section>
                }
                <section class="home-card">
                    <h1 class="home-title">{ tr(Text::Tagline) }</h1>
                    if needs_browser {
                        <WebRtcNotice support={platform.support} {on_open_browser} outcome={*browser_outcome} />
                    }
                    <div class="home-actions">
                        <button id="start-call" class="button primary large" onclick={on_start} disabled={!server_ready}>
                            <Icon kind={IconKind::Plus} size={22} />
                            <span>{ tr(Text::StartCall) }</span>
                        </button>
                        <p class="hint">{ tr(Text::StartCallHint) }</p>
                    </div>
                    <div class="divider" role="separator"><span>{ tr(Text::Or) }</span></div>
                    <form class="join-form" id="join-form" onsubmit={on_join} novalidate=true>
                        <label for="join-input">{ tr(Text::JoinLabel) }</label>
                        <div class="join-row">
                            <input id="join-input" ref={join_input} type="text" autocomplete="off"
                                spellcheck="false" placeholder={tr(Text::JoinPlaceholder)}
                                aria-invalid={join_error.to_string()}
                                aria-describedby={join_error.then_some("join-error")} />
                            <button id="join-button" type="submit" class="button secondary" disabled={!server_ready}>
                                <span>{ tr(Text::Join) }</span>
                                <Icon kind={IconKind::ArrowRight} size={18} />
                            </button>
                        </div>
                        if *join_error {
                            <p class="field-error" id="join-error" role="alert">{ tr(Text::JoinEmpty) }</p>
                        }
                    </form>
                    <div class="network-actions" id="network-actions">
                        <div class="network-buttons">
                            if platform.host == Host::Desktop {
                                <button id="host-call" class="button secondary" onclick={on_host}>
                                    <Icon kind={IconKind::Users} size={18} />
                                    <span>{ tr(Text::HostCall) }</span>
                                </button>
                            }
                            <button id="find-calls" class="button secondary" onclick={on_find}>
                                <Icon kind={IconKind::Globe} size={18} />
                                <span>{ tr(Text::FindCalls) }</span>
                            </button>
                        </div>
                        <p class="hint">{ tr(Text::NetworkActionsHint) }</p>
                    </div>
                    if can_call {
                        <div class="divider" role="separator"><span>{ tr(Text::Or) }</span></div>
                        <CallById signal={app.signal.clone()} on_call={on_call_id} />
                    }
                </section>
            </main>
        </>
    }
}
