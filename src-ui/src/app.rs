//! The root component: detects the platform, asks where the server is, and
//! provides the shared handles to every page through contexts.

use peercall_signal::address::PageAddress;
use yew::prelude::*;

use crate::call::{AppEvent, CallTarget, DirectRole, Engine};
use crate::components::{IncomingCallPrompt, SettingsNoticeBanner};
use crate::i18n::Lang;
use crate::pages::{CallPage, HomePage, HostPage, JoinPage, SettingsPage};
use crate::platform::Platform;
use crate::state::{
    use_app, Action, AppContext, AppProvider, AppState, IncomingCall, Page, Remote, SignalStatus,
};

/// The root component: the platform and app-state contexts around [`Root`].
/// The platform is known before any page shows (in the desktop app without
/// WebRTC that takes one question to the shell about its native engine), so
/// no page ever shows the wrong engine's screen first.
#[function_component(App)]
pub fn app() -> Html {
    let platform = use_state(|| None::<Platform>);
    {
        let platform = platform.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                platform.set(Some(Platform::detect().await));
            });
        });
    }
    let initial = use_memo((), |_| launch_state());
    let Some(platform) = (*platform).clone() else {
        return html! { <div class="app" id="starting" /> };
    };
    html! {
        <ContextProvider<Platform> context={platform}>
            <AppProvider initial={(*initial).clone()}>
                <Root />
            </AppProvider>
        </ContextProvider<Platform>>
    }
}

/// What runs for as long as the app: the signaling connection, settings
/// and server at start, launch links; the page being shown.
#[function_component(Root)]
fn root() -> Html {
    let platform = crate::platform::use_platform();
    let state = use_app();
    let engine = use_memo((), |_| Engine::new(&platform.engine));

    // The signaling connection lives as long as the app (our id is shown on
    // the home screen, and calls can ring on any screen).
    {
        let engine = (*engine).clone();
        let dispatcher = state.dispatcher();
        let can_call = platform.can_call();
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
    // Start-up marks for the shell's log: the first frame drawn, then the
    // home screen interactive (the server known, "Start a call" enabled).
    let first_paint = use_mut_ref(|| None::<f64>);
    {
        let first_paint = first_paint.clone();
        use_effect_with((), move |_| {
            let frame = gloo::render::request_animation_frame(move |_| {
                *first_paint.borrow_mut() = Some(page_clock());
            });
            move || drop(frame)
        });
    }
    {
        let platform = platform.clone();
        let reported = use_mut_ref(|| false);
        let server_ready = matches!(state.server, crate::state::ServerStatus::Ready(_));
        use_effect_with(server_ready, move |ready| {
            if *ready && !std::mem::replace(&mut *reported.borrow_mut(), true) {
                let interactive = page_clock();
                let first_paint = first_paint.borrow().unwrap_or(interactive);
                wasm_bindgen_futures::spawn_local(async move {
                    platform.ui_ready(first_paint, interactive).await;
                });
            }
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

    let notice = state.settings_notice.clone();
    let dismiss_notice = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(Action::DismissSettingsNotice))
    };
    html! {
        <ContextProvider<Lang> context={state.lang}>
            <ContextProvider<Engine> context={(*engine).clone()}>
                <div class="app">
                    <SettingsNoticeBanner {notice} on_dismiss={dismiss_notice} />
                    { page }
                    { incoming_prompt(&state, &engine) }
                </div>
            </ContextProvider<Engine>>
        </ContextProvider<Lang>>
    }
}

/// Milliseconds since the page started loading.
fn page_clock() -> f64 {
    gloo::utils::window()
        .performance()
        .map(|p| p.now())
        .unwrap_or_default()
}

/// The state at launch, from the page address ([`PageAddress`]) and the
/// invite link the app was started with.
fn launch_state() -> AppState {
    let search = gloo::utils::window()
        .location()
        .search()
        .unwrap_or_default();
    let address = PageAddress::from_query(&search);
    let mut state = AppState::new(Lang::detect(), initial_page(&address));
    state.name = address.name.filter(|n| !n.trim().is_empty());
    state
}

/// Where the app opens: `?room=CODE` (with `&server=URL&password=…` for
/// another server) opens that call directly (the desktop app's
/// open-in-browser action and invites); an invite link the app was launched
/// with, or `?join=LINK`, opens the join screen on it.
fn initial_page(address: &PageAddress) -> Page {
    if address.settings {
        return Page::Settings;
    }
    if let Some(link) = address.join.clone().or_else(crate::platform::launch_link) {
        return Page::Join { link: Some(link) };
    }
    let via = address
        .server
        .clone()
        .filter(|url| peercall_signal::settings::is_signaling_url(url))
        .map(|ws_url| Remote {
            ws_url,
            password: address.password.clone(),
        });
    address
        .room
        .as_deref()
        .and_then(crate::room_code::normalize)
        .map(|room| Page::Call { room, via })
        .unwrap_or(Page::Home)
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
fn incoming_prompt(state: &AppContext, engine: &Engine) -> Html {
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
