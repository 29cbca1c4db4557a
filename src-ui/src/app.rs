//! The root component: detects the platform, asks where the server is, and
//! provides the shared handles to every page through contexts.

use yew::prelude::*;

use crate::call::{AppEvent, CallTarget, DirectRole, Engine};
use crate::components::{IncomingCallPrompt, SettingsNoticeBanner};
use crate::i18n::Lang;
use crate::pages::{CallPage, HomePage, HostPage, JoinPage, SettingsPage};
use crate::platform::Platform;
use crate::state::{Action, AppState, IncomingCall, Page, Remote, SignalStatus};

/// The app-state handle components use to read state and dispatch actions.
pub type AppContext = UseReducerHandle<AppState>;

/// The root component.
#[function_component(App)]
pub fn app() -> Html {
    let platform = use_memo((), |_| Platform::detect());
    let state = use_reducer(|| {
        let mut state = AppState::new(Lang::detect(), initial_page());
        state.name = url_param("name").filter(|n| !n.trim().is_empty());
        state
    });
    let engine = use_memo((), |_| Engine::new());

    // The signaling connection lives as long as the app (our id is shown on
    // the home screen, and calls can ring on any screen).
    {
        let engine = (*engine).clone();
        let dispatcher = state.dispatcher();
        let can_call = platform.support.can_call();
        use_effect_with(state.signal_url(), move |url| {
            if let (Some(url), true) = (url, can_call) {
                engine.connect(
                    url,
                    Callback::from(move |event| dispatcher.dispatch(app_action(event))),
                );
            }
        });
    }
    {
        // Whoever rings us sees our name.
        let engine = (*engine).clone();
        use_effect_with(state.display_name(), move |name| engine.set_name(name));
    }
    {
        let engine = (*engine).clone();
        use_effect_with(state.settings.ice_servers.clone(), move |servers| {
            engine.set_settings_ice_servers(servers.clone());
        });
    }

    {
        let platform = platform.clone();
        let state = state.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match platform.load_settings().await {
                    Ok(snapshot) => state.dispatch(Action::SettingsLoaded(snapshot)),
                    Err(error) => gloo::console::error!(format!("load_settings failed: {error:?}")),
                }
                match platform.server_info().await {
                    Ok(info) => state.dispatch(Action::ServerReady(info)),
                    Err(error) => {
                        gloo::console::error!(format!("server_info failed: {error:?}"));
                        state.dispatch(Action::ServerUnavailable);
                    }
                }
            });
        });
    }

    // An invite link clicked while the app runs (macOS delivers it as an
    // event): open the join screen on it.
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            let listener = gloo::events::EventListener::new(
                &gloo::utils::window(),
                peercall_signal::shell::LINK_EVENT,
                move |_| {
                    if let Some(link) = crate::platform::launch_link() {
                        state.dispatch(Action::Navigate(Page::Join { link: Some(link) }));
                    }
                },
            );
            move || drop(listener)
        });
    }
    {
        let lang = state.lang;
        use_effect_with(lang, move |lang| {
            if let Some(root) = gloo::utils::document().document_element() {
                let _ = root.set_attribute("lang", lang.tag());
            }
        });
    }

    let page = match &state.page {
        Page::Home => html! { <HomePage /> },
        Page::Call { room, via } => html! {
            <CallPage key={format!("room:{room}:{}", via.as_ref().map_or("", |v| v.ws_url.as_str()))}
                target={CallTarget::Room(room.clone())} password={via.as_ref().and_then(|v| v.password.clone())} />
        },
        Page::Host => html! { <HostPage /> },
        Page::Join { link } => html! { <JoinPage link={link.clone()} /> },
        Page::Direct { peer, name, role } => html! {
            <CallPage key={format!("direct:{peer}")} target={CallTarget::Direct {
                peer: peer.clone(), name: name.clone(), role: *role,
            }} />
        },
        Page::Settings => html! { <SettingsPage /> },
    };

    html! {
        <ContextProvider<Platform> context={(*platform).clone()}>
            <ContextProvider<Lang> context={state.lang}>
                <ContextProvider<AppContext> context={state.clone()}>
                    <ContextProvider<Engine> context={(*engine).clone()}>
                        <div class="app">
                            <SettingsNoticeBanner />
                            { page }
                            { incoming_prompt(&state, &engine) }
                        </div>
                    </ContextProvider<Engine>>
                </ContextProvider<AppContext>>
            </ContextProvider<Lang>>
        </ContextProvider<Platform>>
    }
}

/// Where the app opens: `?room=CODE` (with `&server=URL&password=…` for
/// another server) opens that call directly (the desktop app's
/// open-in-browser action and invites); an invite link the app was launched
/// with, or `?join=LINK`, opens the join screen on it.
fn initial_page() -> Page {
    let param = url_param;
    if param("page").as_deref() == Some("settings") {
        return Page::Settings;
    }
    if let Some(link) = param("join").or_else(crate::platform::launch_link) {
        return Page::Join { link: Some(link) };
    }
    let via = param("server")
        .filter(|url| peercall_signal::settings::is_signaling_url(url))
        .map(|ws_url| Remote {
            ws_url,
            password: param("password").filter(|p| !p.is_empty()),
        });
    param("room")
        .and_then(|room| crate::room_code::normalize(&room))
        .map(|room| Page::Call { room, via })
        .unwrap_or(Page::Home)
}

/// A query parameter of the page address.
fn url_param(name: &str) -> Option<String> {
    let search = gloo::utils::window()
        .location()
        .search()
        .unwrap_or_default();
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()
        .and_then(|params| params.get(name))
}

/// What an engine event changes in the app state.
fn app_action(event: AppEvent) -> Action {
    match event {
        AppEvent::Online(id) => Action::Signal(SignalStatus::Online(id)),
        AppEvent::Offline { .. } => Action::Signal(SignalStatus::Offline),
        AppEvent::Ring { from, name } => Action::Ring(IncomingCall { from, name }),
        AppEvent::RingEnded(from) => Action::RingEnded(from),
    }
}

/// The incoming-call prompt, over whatever screen is showing.
fn incoming_prompt(state: &UseReducerHandle<AppState>, engine: &Engine) -> Html {
    let Some(call) = state.incoming.clone() else {
        return html! {};
    };
    let on_accept = {
        let state = state.clone();
        let call = call.clone();
        Callback::from(move |_| {
            state.dispatch(Action::RingEnded(call.from.clone()));
            state.dispatch(Action::Navigate(Page::Direct {
                peer: call.from.clone(),
                name: call.name.clone(),
                role: DirectRole::Callee,
            }));
        })
    };
    let on_decline = {
        let state = state.clone();
        let engine = engine.clone();
        let from = call.from.clone();
        Callback::from(move |_| {
            engine.decline(&from);
            state.dispatch(Action::RingEnded(from.clone()));
        })
    };
    html! { <IncomingCallPrompt {call} {on_accept} {on_decline} /> }
}
