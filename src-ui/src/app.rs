//! The root component: detects the platform, asks where the server is, and
//! provides the shared handles to every page through contexts.

use yew::prelude::*;

use crate::call::{AppEvent, CallTarget, DirectRole, Engine};
use crate::components::{IncomingCallPrompt, SettingsNoticeBanner};
use crate::i18n::Lang;
use crate::pages::{CallPage, HomePage, SettingsPage};
use crate::platform::Platform;
use crate::state::{Action, AppState, IncomingCall, Page, ServerStatus, SignalStatus};

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
        use_effect_with(state.server.clone(), move |server| {
            if let (ServerStatus::Ready(info), true) = (server, can_call) {
                engine.connect(
                    &info.ws_url,
                    Callback::from(move |event| dispatcher.dispatch(app_action(event))),
                );
            }
        });
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
        Page::Call { room } => html! {
            <CallPage key={format!("room:{room}")} target={CallTarget::Room(room.clone())} />
        },
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

/// `?room=CODE` opens that call directly (links from the desktop app's
/// open-in-browser action and invites).
fn initial_page() -> Page {
    let search = gloo::utils::window()
        .location()
        .search()
        .unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok();
    let param = |name: &str| params.as_ref().and_then(|p| p.get(name));
    if param("page").as_deref() == Some("settings") {
        return Page::Settings;
    }
    param("room")
        .and_then(|room| crate::room_code::normalize(&room))
        .map(|room| Page::Call { room })
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
