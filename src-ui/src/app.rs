//! The root component: detects the platform, asks where the server is, and
//! provides the shared handles to every page through contexts.

use yew::prelude::*;

use crate::i18n::Lang;
use crate::pages::{CallPage, HomePage};
use crate::platform::Platform;
use crate::state::{Action, AppState, Page};

/// The app-state handle components use to read state and dispatch actions.
pub type AppContext = UseReducerHandle<AppState>;

/// The root component.
#[function_component(App)]
pub fn app() -> Html {
    let platform = use_memo((), |_| Platform::detect());
    let state = use_reducer(|| AppState::new(Lang::detect(), initial_page()));

    {
        let platform = platform.clone();
        let state = state.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
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
        Page::Call { room } => html! { <CallPage room={room.clone()} /> },
    };

    html! {
        <ContextProvider<Platform> context={(*platform).clone()}>
            <ContextProvider<Lang> context={state.lang}>
                <ContextProvider<AppContext> context={state.clone()}>
                    <div class="app">{ page }</div>
                </ContextProvider<AppContext>>
            </ContextProvider<Lang>>
        </ContextProvider<Platform>>
    }
}

/// `?room=CODE` opens that call directly (links from the desktop app's
/// open-in-browser action and invites).
fn initial_page() -> Page {
    let search = gloo::utils::window().location().search().unwrap_or_default();
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()
        .and_then(|params| params.get("room"))
        .and_then(|room| crate::room_code::normalize(&room))
        .map(|room| Page::Call { room })
        .unwrap_or(Page::Home)
}
