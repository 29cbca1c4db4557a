//! Hosting a call for the LAN: an optional password, then the call code,
//! this computer's addresses, the invite link and its QR code, and a way to
//! stop.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{BrowserOutcome, Icon, IconKind, QrImage, TopBar};
use crate::hooks::{copy_label, use_copy, use_settings_store, use_text};
use crate::i18n::{fill, Text};
use crate::pages::network::enter_remote_call;
use crate::platform::{use_platform, HostingInfo};
use crate::room_code;
use crate::state::{use_app, Action, Page};

/// How often the host screen asks how many are in the call.
const PRESENCE_POLL_MS: u32 = 3_000;
/// Hosting this long with nobody arriving opens the firewall advice.
const NOBODY_CAME_MS: f64 = 60_000.0;

/// Where hosting stands.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// Asking the shell whether we already host.
    Loading,
    /// Not hosting; `failed` after a start that didn't work.
    Idle { failed: bool },
    /// Starting the LAN listener.
    Starting,
    /// Hosting.
    Hosting(HostingInfo),
}

/// The host screen.
#[function_component(HostPage)]
pub fn host_page() -> Html {
    let tr = use_text();
    let app = use_app();
    let platform = use_platform();
    let store = use_settings_store();
    let phase = use_state(|| Phase::Loading);
    let password_input = use_node_ref();
    let outcome = use_state(|| None::<BrowserOutcome>);
    let (copy, copied) = use_copy();
    // How many are in the call (asked of the LAN listener itself), and
    // whether nobody but (perhaps) the host came within a minute of this
    // screen watching the hosting: likely a firewall.
    let present = use_state_eq(|| None::<usize>);
    let nobody_came = use_state_eq(|| false);
    {
        let present = present.clone();
        let nobody_came = nobody_came.clone();
        let platform = platform.clone();
        let hosting = match &*phase {
            Phase::Hosting(info) => Some(info.clone()),
            _ => None,
        };
        use_effect_with(hosting, move |hosting| {
            let since = js_sys::Date::now();
            let interval = hosting.clone().map(|info| {
                let poll = move || {
                    let (present, nobody_came) = (present.clone(), nobody_came.clone());
                    let (platform, info) = (platform.clone(), info.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        let check = platform.check_server(
                            &info.local_ws_url,
                            &info.room,
                            info.password.as_deref(),
                            "",
                        );
                        if let Ok(Some(members)) = check.await {
                            present.set(Some(members));
                            nobody_came
                                .set(members <= 1 && js_sys::Date::now() - since > NOBODY_CAME_MS);
                        }
                    });
                };
                poll();
                gloo::timers::callback::Interval::new(PRESENCE_POLL_MS, poll)
            });
            move || drop(interval)
        });
    }

    {
        let phase = phase.clone();
        let platform = platform.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                phase.set(match platform.hosting_info().await {
                    Some(info) => Phase::Hosting(info),
                    None => Phase::Idle { failed: false },
                });
            });
        });
    }

    let on_start = {
        let phase = phase.clone();
        let platform = platform.clone();
        let password_input = password_input.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let typed = password_input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .filter(|p| !p.is_empty());
            phase.set(Phase::Starting);
            let phase = phase.clone();
            let platform = platform.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let room = room_code::generate();
                match platform.start_hosting(&room, typed.as_deref()).await {
                    Ok(info) => phase.set(Phase::Hosting(info)),
                    Err(error) => {
                        gloo::console::error!(format!("start_hosting: {error:?}"));
                        phase.set(Phase::Idle { failed: true });
                    }
                }
            });
        })
    };
    // A password a guesser can't find under the server's throttle (a few
    // tries, then waits that double): ten random letters, shown so the host
    // can read it out.
    let on_suggest = {
        let password_input = password_input.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(input) = password_input.cast::<HtmlInputElement>() {
                input.set_type("text");
                input.set_value(&room_code::generate());
                let _ = input.focus();
            }
        })
    };
    let on_stop = {
        let phase = phase.clone();
        let platform = platform.clone();
        Callback::from(move |_| {
            let phase = phase.clone();
            let platform = platform.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(error) = platform.stop_hosting().await {
                    gloo::console::error!(format!("stop_hosting: {error:?}"));
                }
                phase.set(Phase::Idle { failed: false });
            });
        })
    };
    let on_back = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::Navigate(Page::Home)))
    };

    let body = match &*phase {
        Phase::Loading => html! { <p class="hint"><span class="spinner" /></p> },
        Phase::Idle { .. } | Phase::Starting => {
            let starting = *phase == Phase::Starting;
            let failed = matches!(*phase, Phase::Idle { failed: true });
            html! {
                <form class="host-form" id="host-form" onsubmit={on_start} novalidate=true>
                    <h1>{ tr(Text::HostTitle) }</h1>
                    <p class="hint">{ tr(Text::HostIntro) }</p>
                    <div class="field">
                        <label for="host-password">{ tr(Text::PasswordOptional) }</label>
                        <div class="input-row">
                            <input id="host-password" ref={password_input} type="password" autocomplete="new-password" />
                            <button id="suggest-password" type="button" class="button secondary" onclick={on_suggest}>
                                { tr(Text::SuggestPassword) }
                            </button>
                        </div>
                        <p class="field-hint">{ tr(Text::PasswordOptionalHint) }</p>
                    </div>
                    if failed {
                        <p class="field-error" id="host-error" role="alert">{ tr(Text::HostingFailed) }</p>
                    }
                    <div>
                        <button id="start-hosting" type="submit" class="button primary large" disabled={starting}>
                            if starting { <span class="spinner" /> } else { <Icon kind={IconKind::Users} size={20} /> }
                            <span>{ tr(Text::StartHosting) }</span>
                        </button>
                    </div>
                </form>
            }
        }
        Phase::Hosting(info) => {
            let invite = info.invite_links.first().cloned();
            let on_enter = {
                let app = app.clone();
                let platform = platform.clone();
                let store = store.clone();
                let outcome = outcome.clone();
                let info = info.clone();
                Callback::from(move |_| {
                    enter_remote_call(
                        &app,
                        &platform,
                        &store,
                        info.room.clone(),
                        info.local_ws_url.clone(),
                        info.password.clone(),
                        outcome.clone(),
                    )
                })
            };
            let on_copy = {
                let copy = copy.clone();
                let invite = invite.clone().unwrap_or_default();
                Callback::from(move |_| copy.emit(invite.clone()))
            };
            let nobody_came = *nobody_came;
            let os_tip = if crate::platform::is_macos() {
                tr(Text::FirewallMac).to_owned()
            } else if crate::platform::is_windows() {
                tr(Text::FirewallWindows).to_owned()
            } else {
                fill(tr(Text::FirewallLinux), &info.port.to_string())
            };
            html! {
                <section class="hosting" id="hosting" data-room={info.room.clone()} data-port={info.port.to_string()}
                    data-ws-url={info.local_ws_url.clone()} data-invite={invite.clone()}>
                    <div class="hosting-title">
                        <h1>{ tr(Text::HostingNow) }</h1>
                        <span class="badge ok"><span class="dot" />{ info.host_name.clone() }</span>
                        if info.password_required {
                            <span class="badge" id="hosting-locked">{ tr(Text::PasswordProtected) }</span>
                        }
                        if let Some(count) = *present {
                            <span class="badge" id="hosting-present" data-count={count.to_string()}>
                                { fill(tr(Text::InTheCall), &count.to_string()) }
                            </span>
                        }
                    </div>
                    if info.addresses.is_empty() {
                        <div class="notice error" id="no-network" role="alert"><div class="notice-body">
                            <p>{ tr(Text::NoNetwork) }</p>
                        </div></div>
                    }
                    <div class="hosting-grid">
                        if let Some(invite) = invite.clone() {
                            <figure class="hosting-qr">
                                <QrImage text={invite} alt={tr(Text::InviteQrAlt)} />
                                <figcaption class="hint">{ tr(Text::ScanToJoin) }</figcaption>
                            </figure>
                        }
                        <dl class="hosting-facts">
                            <dt>{ tr(Text::CallCode) }</dt>
                            <dd class="call-room-code" id="hosting-room">{ info.room.clone() }</dd>
                            <dt>{ tr(Text::YourAddress) }</dt>
                            <dd id="hosting-addresses">
                                { for info.addresses.iter().map(|a| html! {
                                    <span class="address">{ format!("{a}:{}", info.port) }</span>
                                }) }
                            </dd>
                            if let Some(invite) = invite.clone() {
                                <dt>{ tr(Text::InviteLink) }</dt>
                                <dd class="invite-row">
                                    <code id="invite-link">{ invite }</code>
                                    <button class="button secondary small" id="copy-invite" onclick={on_copy}>
                                        <Icon kind={IconKind::Copy} size={16} />
                                        <span>{ tr(copy_label(copied, Text::CopyInvite, Text::InviteCopied)) }</span>
                                    </button>
                                </dd>
                            }
                        </dl>
                    </div>
                    if !info.advertised {
                        <p class="hint" id="not-advertised">{ tr(Text::NotAdvertised) }</p>
                    }
                    <div class="hosting-actions">
                        <button id="enter-hosted-call" class="button primary large" onclick={on_enter}>
                            <Icon kind={IconKind::ArrowRight} size={20} />
                            <span>{ tr(Text::EnterHostedCall) }</span>
                        </button>
                        <button id="stop-hosting" class="button danger" onclick={on_stop} title={tr(Text::StopHostingHint)}>
                            <Icon kind={IconKind::Close} size={18} />
                            <span>{ tr(Text::StopHosting) }</span>
                        </button>
                    </div>
                    { outcome.as_ref().map(|o| o.view(&tr)).unwrap_or_default() }
                    <details class="firewall-help" id="firewall-help" open={nobody_came}
                        data-nobody-came={nobody_came.to_string()}>
                        <summary>{ tr(if nobody_came { Text::NobodyCame } else { Text::FirewallTitle }) }</summary>
                        <p>{ fill(tr(Text::FirewallBody), &info.port.to_string()) }</p>
                        <p>{ os_tip }</p>
                    </details>
                </section>
            }
        }
    };

    html! {
        <>
            <TopBar />
            <main class="network-page" id="host-page">
                <div class="settings-head">
                    <button class="button ghost" id="host-back" onclick={on_back}>
                        <Icon kind={IconKind::ArrowLeft} size={18} />
                        <span>{ tr(Text::Back) }</span>
                    </button>
                </div>
                <div class="network-card">{ body }</div>
            </main>
        </>
    }
}
