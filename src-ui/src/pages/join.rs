//! Joining a call that isn't on this app's own server: one found on the
//! LAN (listed live), or any server by invite link or address. Every
//! server is checked first, so each failure gets its own plain message.

use peercall_signal::address::{self, AddressError};
use peercall_signal::shell::JoinFailure;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{BrowserOutcome, Icon, IconKind, TopBar};
use crate::hooks::{use_settings_store, use_text};
use crate::i18n::{fill, Text};
use crate::pages::network::{calling_origin, enter_remote_call, join_error_text};
use crate::platform::{use_platform, LanCall};
use crate::room_code;
use crate::state::{use_app, Action, Page};

/// How often the LAN list is refreshed.
const LAN_POLL_MS: u32 = 1_000;

/// Props for [`JoinPage`].
#[derive(Properties, PartialEq)]
pub struct JoinPageProps {
    /// An invite link to start from (one the app was opened with).
    #[prop_or_default]
    pub link: Option<String>,
}

/// Where the join form stands.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    Idle,
    Checking,
    /// The check failed, and why.
    Failed(JoinFailure),
}

/// A server and room to join, from the list or the form.
#[derive(Clone, Debug, PartialEq)]
struct Attempt {
    ws_url: String,
    room: String,
    password: Option<String>,
    /// Typed by the user (remembered in recent servers), not picked from
    /// the LAN list.
    typed: bool,
}

/// The join screen.
#[function_component(JoinPage)]
pub fn join_page(props: &JoinPageProps) -> Html {
    let tr = use_text();
    let app = use_app();
    let platform = use_platform();
    let store = use_settings_store();
    // Only a changed list redraws the page.
    let lan = use_state_eq(|| None::<Result<Vec<LanCall>, ()>>);
    let status = use_state(|| Status::Idle);
    let outcome = use_state(|| None::<BrowserOutcome>);
    let address_input = use_node_ref();
    let room_input = use_node_ref();
    let password_input = use_node_ref();
    // The LAN call whose password is being asked for.
    let asking = use_state(|| None::<String>);
    let lan_password = use_node_ref();

    // The LAN list, refreshed while this screen shows (where there is one).
    {
        let lan = lan.clone();
        let platform = platform.clone();
        use_effect_with((), move |_| {
            let interval = (!platform.lan_unavailable()).then(|| {
                let refresh = move || {
                    let lan = lan.clone();
                    let platform = platform.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let result = platform.lan_calls().await;
                        lan.set(Some(result.map_err(|e| {
                            gloo::console::warn!(format!("lan_calls: {e:?}"));
                        })));
                    });
                };
                refresh();
                gloo::timers::callback::Interval::new(LAN_POLL_MS, refresh)
            });
            move || drop(interval)
        });
    }

    // Checks the server, then enters the call (remembering typed servers).
    let attempt = {
        let app = app.clone();
        let platform = platform.clone();
        let store = store.clone();
        let status = status.clone();
        let outcome = outcome.clone();
        Callback::from(move |attempt: Attempt| {
            status.set(Status::Checking);
            let app = app.clone();
            let platform = platform.clone();
            let store = store.clone();
            let status = status.clone();
            let outcome = outcome.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let origin = calling_origin(&app, &platform);
                let checked = platform
                    .check_server(
                        &attempt.ws_url,
                        &attempt.room,
                        attempt.password.as_deref(),
                        &origin,
                    )
                    .await;
                if let Err(error) = checked {
                    gloo::console::warn!(format!("check_server: {error:?}"));
                    status.set(Status::Failed(error.join_failure()));
                    return;
                }
                status.set(Status::Idle);
                if attempt.typed {
                    store.remember_server(&attempt.ws_url);
                }
                enter_remote_call(
                    &app,
                    &platform,
                    &store,
                    attempt.room,
                    attempt.ws_url,
                    attempt.password,
                    outcome,
                );
            });
        })
    };

    let on_submit = {
        let attempt = attempt.clone();
        let status = status.clone();
        let (address_input, room_input, password_input) = (
            address_input.clone(),
            room_input.clone(),
            password_input.clone(),
        );
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let value = |input: &NodeRef| {
                input
                    .cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let target = match address::parse(&value(&address_input)) {
                Ok(target) => target,
                Err(error) => {
                    status.set(Status::Failed(address_failure(&error)));
                    return;
                }
            };
            let typed_room = value(&room_input);
            let room = if typed_room.trim().is_empty() {
                target.room
            } else {
                room_code::normalize(&typed_room)
            };
            let Some(room) = room else {
                let failure = if typed_room.trim().is_empty() {
                    JoinFailure::RoomMissing
                } else {
                    JoinFailure::InvalidRoom
                };
                status.set(Status::Failed(failure));
                return;
            };
            let password = Some(value(&password_input)).filter(|p| !p.is_empty());
            attempt.emit(Attempt {
                ws_url: target.server,
                room,
                password,
                typed: true,
            });
        })
    };

    // An invite link that opened the app: fill the form and go.
    {
        let address_input = address_input.clone();
        let attempt = attempt.clone();
        let server_known = app.server != crate::state::ServerStatus::Starting;
        use_effect_with((props.link.clone(), server_known), move |(link, known)| {
            if let (Some(link), true) = (link, *known) {
                if let Some(input) = address_input.cast::<HtmlInputElement>() {
                    input.set_value(link);
                }
                if let Ok(target) = address::parse(link) {
                    if let Some(room) = target.room {
                        attempt.emit(Attempt {
                            ws_url: target.server,
                            room,
                            password: None,
                            typed: false,
                        });
                    }
                }
            }
        });
    }

    let on_back = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::Navigate(Page::Home)))
    };
    let checking = *status == Status::Checking;

    let lan_list = match &*lan {
        _ if platform.lan_unavailable() => html! {
            <p class="hint" id="lan-unavailable">{ tr(Text::LanUnavailable) }</p>
        },
        None => html! {
            <p class="hint" id="lan-searching"><span class="spinner" />{ tr(Text::SearchingLan) }</p>
        },
        Some(Err(())) => html! {
            <p class="hint" id="lan-unavailable">{ tr(Text::NotAdvertised) }</p>
        },
        Some(Ok(calls)) if calls.is_empty() => html! {
            <p class="hint" id="lan-empty"><span class="pulse" />{ tr(Text::NoLanCalls) }</p>
        },
        Some(Ok(calls)) => html! {
            <ul class="lan-calls" id="lan-calls">
                { for calls.iter().map(|call| {
                    let on_pick = {
                        let attempt = attempt.clone();
                        let asking = asking.clone();
                        let call = call.clone();
                        Callback::from(move |_| {
                            if call.password_required {
                                asking.set(Some(call.id.clone()));
                            } else {
                                attempt.emit(Attempt {
                                    ws_url: call.ws_url.clone(),
                                    room: call.room.clone(),
                                    password: None,
                                    typed: false,
                                });
                            }
                        })
                    };
                    let asking_here = asking.as_deref() == Some(call.id.as_str());
                    let on_password = {
                        let attempt = attempt.clone();
                        let call = call.clone();
                        let lan_password = lan_password.clone();
                        Callback::from(move |event: SubmitEvent| {
                            event.prevent_default();
                            let password = lan_password
                                .cast::<HtmlInputElement>()
                                .map(|i| i.value())
                                .filter(|p| !p.is_empty());
                            attempt.emit(Attempt {
                                ws_url: call.ws_url.clone(),
                                room: call.room.clone(),
                                password,
                                typed: false,
                            });
                        })
                    };
                    html! {
                        <li class="lan-call" data-room={call.room.clone()} data-host={call.host_name.clone()}
                            data-ws-url={call.ws_url.clone()}>
                            <button class="lan-call-main" onclick={on_pick} disabled={!call.compatible || checking}>
                                <span class="lan-call-icon"><Icon kind={IconKind::Users} size={20} /></span>
                                <span class="lan-call-text">
                                    <strong>{ fill(tr(Text::HostedBy), &call.host_name) }</strong>
                                    <span class="hint">{ call.room.clone() }
                                        if call.password_required { { " · " }{ tr(Text::PasswordProtected) } }
                                        if !call.compatible { { " · " }{ tr(Text::IncompatibleVersion) } }
                                    </span>
                                </span>
                                <Icon kind={IconKind::ArrowRight} size={18} />
                            </button>
                            if asking_here {
                                <form class="join-row lan-password" onsubmit={on_password}>
                                    <input ref={lan_password.clone()} type="password" id="lan-password"
                                        aria-label={tr(Text::PasswordLabel)} placeholder={tr(Text::PasswordLabel)} />
                                    <button type="submit" class="button primary" id="lan-password-join" disabled={checking}>
                                        { tr(Text::Join) }
                                    </button>
                                </form>
                            }
                        </li>
                    }
                }) }
            </ul>
        },
    };

    let recent = app.settings.recent_servers.clone();
    let error = match &*status {
        Status::Failed(failure) => {
            let text = join_error_text(*failure);
            html! { <p class="field-error" id="join-error" data-kind={failure.name()} role="alert">{ tr(text) }</p> }
        }
        Status::Checking => html! {
            <p class="hint" id="join-checking" role="status"><span class="spinner" />{ tr(Text::CheckingServer) }</p>
        },
        Status::Idle => html! {},
    };

    html! {
        <>
            <TopBar />
            <main class="network-page" id="join-page">
                <div class="settings-head">
                    <button class="button ghost" id="join-back" onclick={on_back}>
                        <Icon kind={IconKind::ArrowLeft} size={18} />
                        <span>{ tr(Text::Back) }</span>
                    </button>
                    <h1>{ tr(Text::JoinTitle) }</h1>
                </div>
                <section class="network-card" aria-labelledby="lan-heading">
                    <h2 id="lan-heading">{ tr(Text::OnYourNetwork) }</h2>
                    { lan_list }
                </section>
                <section class="network-card" aria-labelledby="address-heading">
                    <h2 id="address-heading">{ tr(Text::ByAddress) }</h2>
                    <form class="join-address-form" id="join-address-form" onsubmit={on_submit} novalidate=true>
                        <div class="field">
                            <label for="join-address">{ tr(Text::ByAddress) }</label>
                            <input id="join-address" ref={address_input.clone()} type="text" autocomplete="off"
                                spellcheck="false" placeholder={tr(Text::AddressPlaceholder)} />
                            <p class="field-hint">{ tr(Text::AddressHint) }</p>
                        </div>
                        <div class="field-pair">
                            <div class="field">
                                <label for="join-room">{ tr(Text::CallCode) }</label>
                                <input id="join-room" ref={room_input} type="text" autocomplete="off" spellcheck="false" />
                            </div>
                            <div class="field">
                                <label for="join-password">{ tr(Text::PasswordLabel) }</label>
                                <input id="join-password" ref={password_input} type="password" autocomplete="off" />
                            </div>
                        </div>
                        { error }
                        <div>
                            <button id="join-submit" type="submit" class="button primary" disabled={checking}>
                                <span>{ tr(Text::Join) }</span>
                                <Icon kind={IconKind::ArrowRight} size={18} />
                            </button>
                        </div>
                    </form>
                    if !recent.is_empty() {
                        <div class="recent-servers" id="recent-servers">
                            <h3>{ tr(Text::RecentServers) }</h3>
                            <div class="chips">
                                { for recent.iter().map(|url| {
                                    let address_input = address_input.clone();
                                    let fill_url = url.clone();
                                    let onclick = Callback::from(move |_| {
                                        if let Some(input) = address_input.cast::<HtmlInputElement>() {
                                            input.set_value(&fill_url);
                                            let _ = input.focus();
                                        }
                                    });
                                    html! { <button type="button" class="chip" {onclick}>{ url.clone() }</button> }
                                }) }
                            </div>
                        </div>
                    }
                    { outcome.as_ref().map(|o| o.view(&tr)).unwrap_or_default() }
                </section>
            </main>
        </>
    }
}

/// Why an address that didn't parse can't be joined.
fn address_failure(error: &AddressError) -> JoinFailure {
    match error {
        AddressError::BadRoom => JoinFailure::InvalidRoom,
        _ => JoinFailure::InvalidAddress,
    }
}
