use peercall_signal::protocol::IceServer;
use peercall_signal::settings::{FieldError, Settings};
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{Icon, IconKind, Toggle};
use crate::field_errors::message_for;
use crate::hooks::use_text;
use crate::i18n::Text;

/// Props for [`NetworkSection`].
#[derive(Properties, PartialEq)]
pub struct NetworkSectionProps {
    /// The settings in force.
    pub settings: Settings,
    /// Errors from the last save.
    pub errors: Rc<Vec<FieldError>>,
    /// Saves a changed copy.
    pub on_save: Callback<Settings>,
}

/// The embedded server, STUN/TURN servers, recent remote servers.
#[function_component(NetworkSection)]
pub fn network_section(props: &NetworkSectionProps) -> Html {
    let tr = use_text();
    let settings = &props.settings;
    let ice_url = use_node_ref();
    let ice_username = use_node_ref();
    let ice_credential = use_node_ref();

    let save_with = |change: fn(&mut Settings, String)| {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |value: String| {
            let mut next = settings.clone();
            change(&mut next, value);
            on_save.emit(next);
        })
    };
    let on_server_enabled = {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |enabled: bool| {
            let mut next = settings.clone();
            next.embedded_server.enabled = enabled;
            on_save.emit(next);
        })
    };
    let on_port = save_with(|s, value| {
        // A value that isn't a number is sent as 0 so it gets the port error.
        s.embedded_server.port = value.trim().parse().unwrap_or(0);
    });
    let on_port = Callback::from(move |e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        on_port.emit(input.value());
    });
    let on_add_ice = {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        let (url, username, credential) = (
            ice_url.clone(),
            ice_username.clone(),
            ice_credential.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let read = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value().trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            let Some(address) = read(&url) else { return };
            let mut next = settings.clone();
            next.ice_servers.push(IceServer {
                urls: vec![address],
                username: read(&username),
                credential: read(&credential),
            });
            on_save.emit(next);
            for r in [&url, &username, &credential] {
                if let Some(input) = r.cast::<HtmlInputElement>() {
                    input.set_value("");
                }
            }
        })
    };
    let remove_ice = |index: usize| {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |_| {
            let mut next = settings.clone();
            next.ice_servers.remove(index);
            on_save.emit(next);
        })
    };
    let remove_recent = |index: usize| {
        let settings = settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |_| {
            let mut next = settings.clone();
            next.recent_servers.remove(index);
            on_save.emit(next);
        })
    };
    let port_error = message_for(&props.errors, "embedded_server");
    let ice_error = message_for(&props.errors, "ice_servers");

    html! {
        <section class="settings-section" aria-labelledby="section-network">
            <h2 id="section-network">{ tr(Text::SectionNetwork) }</h2>
            <Toggle id="embedded-server" label={tr(Text::EmbeddedServer)} hint={tr(Text::EmbeddedServerHint)}
                checked={settings.embedded_server.enabled} on_change={on_server_enabled} />
            <div class="field narrow">
                <label for="server-port">{ tr(Text::Port) }</label>
                <input id="server-port" type="number" inputmode="numeric" min="1024" max="65535"
                    value={settings.embedded_server.port.to_string()} onchange={on_port}
                    aria-invalid={port_error.is_some().to_string()}
                    aria-describedby={port_error.map(|_| "server-port-error")} />
                if let Some(error) = port_error {
                    <p class="field-error" id="server-port-error" role="alert">{ tr(error) }</p>
                }
            </div>

            <h3>{ tr(Text::IceServers) }</h3>
            <p class="field-hint">{ tr(Text::IceServersHint) }</p>
            if settings.ice_servers.is_empty() {
                <p class="empty-note">{ tr(Text::NoIceServers) }</p>
            } else {
                <ul class="item-list" id="ice-servers">
                    { for settings.ice_servers.iter().enumerate().map(|(i, server)| html! {
                        <li class="item">
                            <span class="item-main">{ server.urls.join(", ") }</span>
                            if let Some(user) = &server.username {
                                <span class="item-detail">{ user.clone() }</span>
                            }
                            <button class="icon-button" aria-label={tr(Text::Remove)} title={tr(Text::Remove)}
                                onclick={remove_ice(i)}>
                                <Icon kind={IconKind::Trash} size={18} />
                            </button>
                        </li>
                    }) }
                </ul>
            }
            <form class="ice-form" id="ice-form" onsubmit={on_add_ice}>
                <div class="field grow">
                    <label for="ice-url">{ tr(Text::IceUrl) }</label>
                    <input id="ice-url" ref={ice_url} type="text" placeholder="stun:stun.example.com:3478"
                        spellcheck="false" aria-invalid={ice_error.is_some().to_string()}
                        aria-describedby={ice_error.map(|_| "ice-error")} />
                </div>
                <div class="field">
                    <label for="ice-username">{ tr(Text::IceUsername) }</label>
                    <input id="ice-username" ref={ice_username} type="text" autocomplete="off" />
                </div>
                <div class="field">
                    <label for="ice-credential">{ tr(Text::IceCredential) }</label>
                    <input id="ice-credential" ref={ice_credential} type="password" autocomplete="off" />
                </div>
                <button class="button secondary" id="ice-add" type="submit">
                    <Icon kind={IconKind::Plus} size={18} />
                    <span>{ tr(Text::AddServer) }</span>
                </button>
            </form>
            if let Some(error) = ice_error {
                <p class="field-error" id="ice-error" role="alert">{ tr(error) }</p>
            }

            <h3>{ tr(Text::RecentServers) }</h3>
            if settings.recent_servers.is_empty() {
                <p class="empty-note">{ tr(Text::NoRecentServers) }</p>
            } else {
                <ul class="item-list" id="recent-servers">
                    { for settings.recent_servers.iter().enumerate().map(|(i, url)| html! {
                        <li class="item">
                            <span class="item-main">{ url.clone() }</span>
                            <button class="icon-button" aria-label={tr(Text::Remove)} title={tr(Text::Remove)}
                                onclick={remove_recent(i)}>
                                <Icon kind={IconKind::Trash} size={18} />
                            </button>
                        </li>
                    }) }
                </ul>
            }
        </section>
    }
}
