use web_sys::{HtmlElement, HtmlInputElement};
use yew::prelude::*;

use crate::call::ChatLine;
use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::Text;

/// Props for [`ChatPanel`].
#[derive(Properties, PartialEq)]
pub struct ChatPanelProps {
    /// The conversation.
    pub lines: Vec<ChatLine>,
    /// Whether it is on screen.
    pub open: bool,
    /// Someone is connected (otherwise there's nobody to send to).
    pub can_send: bool,
    /// Send a line.
    pub on_send: Callback<String>,
    /// Close the panel.
    pub on_close: Callback<()>,
}

/// The chat, sliding in from the side. Lines travel over the peer
/// connections' data channels, never through the server.
#[function_component(ChatPanel)]
pub fn chat_panel(props: &ChatPanelProps) -> Html {
    let tr = use_text();
    let input = use_node_ref();
    let list = use_node_ref();
    {
        // Keep the newest line in view; focus the field when opening.
        let list = list.clone();
        let input = input.clone();
        use_effect_with((props.lines.len(), props.open), move |(_, open)| {
            if let Some(list) = list.cast::<HtmlElement>() {
                list.set_scroll_top(list.scroll_height());
            }
            if *open {
                if let Some(input) = input.cast::<HtmlInputElement>() {
                    let _ = input.focus();
                }
            }
        });
    }
    let onsubmit = {
        let input = input.clone();
        let on_send = props.on_send.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(input) = input.cast::<HtmlInputElement>() {
                let text = input.value();
                if !text.trim().is_empty() {
                    on_send.emit(text);
                    input.set_value("");
                }
            }
        })
    };
    let on_close = {
        let cb = props.on_close.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let mut previous: Option<Option<u32>> = None;
    let lines = props.lines.iter().map(|line| {
        let continued = previous == Some(line.from);
        previous = Some(line.from);
        let mine = line.from.is_none();
        let name = if mine { tr(Text::You).to_owned() } else { line.name.clone() };
        html! {
            <li key={line.seq} class={classes!("chat-line", mine.then_some("mine"), continued.then_some("continued"))}
                data-from={line.from.map(|k| k.to_string()).unwrap_or_else(|| "me".into())}>
                if !continued {
                    <div class="chat-meta">
                        <span class="chat-name">{ name }</span>
                        <time class="chat-time">{ clock(line.at) }</time>
                    </div>
                }
                <p class="chat-text">{ &line.text }</p>
            </li>
        }
    });
    html! {
        <aside id="chat-panel" class={classes!("chat-panel", props.open.then_some("open"))}
            aria-label={tr(Text::ChatTitle)} aria-hidden={(!props.open).to_string()}>
            <header class="chat-header">
                <h2>{ tr(Text::ChatTitle) }</h2>
                <button class="icon-button" id="chat-close" aria-label={tr(Text::ChatClose)}
                    title={tr(Text::ChatClose)} onclick={on_close} tabindex={if props.open { "0" } else { "-1" }}>
                    <Icon kind={IconKind::Close} />
                </button>
            </header>
            <ol id="chat-messages" class="chat-messages" ref={list} aria-live="polite">
                if props.lines.is_empty() {
                    <li class="chat-empty">{ tr(if props.can_send { Text::ChatEmpty } else { Text::ChatNobody }) }</li>
                }
                { for lines }
            </ol>
            <form class="chat-form" onsubmit={onsubmit}>
                <input id="chat-input" ref={input} type="text" autocomplete="off"
                    maxlength="2000" placeholder={tr(Text::ChatPlaceholder)}
                    aria-label={tr(Text::ChatPlaceholder)} disabled={!props.can_send}
                    tabindex={if props.open { "0" } else { "-1" }} />
                <button id="chat-send" type="submit" class="icon-button accent" aria-label={tr(Text::ChatSend)}
                    title={tr(Text::ChatSend)} disabled={!props.can_send} tabindex={if props.open { "0" } else { "-1" }}>
                    <Icon kind={IconKind::Send} size={18} />
                </button>
            </form>
        </aside>
    }
}

/// `HH:MM` in local time.
fn clock(at: f64) -> String {
    let date = js_sys::Date::new(&at.into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
