use peercall_signal::protocol::PeerId;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::{copy_label, use_copy, use_text};
use crate::i18n::Text;
use crate::state::SignalStatus;

/// Props for [`CallById`].
#[derive(Properties, PartialEq)]
pub struct CallByIdProps {
    /// The signaling connection (our id while online).
    pub signal: SignalStatus,
    /// Ring this id.
    pub on_call: Callback<PeerId>,
}

/// The original demo's flow: your id to share, and a field to ring someone
/// else's.
#[function_component(CallById)]
pub fn call_by_id(props: &CallByIdProps) -> Html {
    let tr = use_text();
    let input = use_node_ref();
    let error = use_state(|| None::<Text>);
    let (copy, copied) = use_copy();
    let my_id = match &props.signal {
        SignalStatus::Online(id) => Some(id.clone()),
        _ => None,
    };
    let on_copy = {
        let my_id = my_id.clone();
        Callback::from(move |_| {
            if let Some(id) = &my_id {
                copy.emit(id.to_string());
            }
        })
    };
    let onsubmit = {
        let input = input.clone();
        let error = error.clone();
        let on_call = props.on_call.clone();
        let my_id = my_id.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let typed = input
                .cast::<HtmlInputElement>()
                .map(|i| i.value().trim().to_owned())
                .unwrap_or_default();
            if typed.is_empty() {
                error.set(Some(Text::CallIdEmpty));
            } else if my_id.as_ref().is_some_and(|me| me.as_str() == typed) {
                error.set(Some(Text::CallIdSelf));
            } else {
                error.set(None);
                on_call.emit(PeerId::new(typed));
            }
        })
    };
    let copy_label = tr(copy_label(copied, Text::CopyId, Text::IdCopied));
    html! {
        <section class="call-by-id" id="call-by-id" aria-labelledby="call-by-id-title">
            <h2 id="call-by-id-title">{ tr(Text::CallById) }</h2>
            <div class="my-id-row">
                <span class="my-id-label">{ tr(Text::YourId) }</span>
                if let Some(id) = &my_id {
                    <code id="my-id" class="my-id">{ id.to_string() }</code>
                    <button id="copy-my-id" class="icon-button" aria-label={copy_label} title={copy_label} onclick={on_copy}>
                        <Icon kind={IconKind::Copy} size={18} />
                    </button>
                    if copied.is_some() {
                        <span class="copy-feedback" role="status">{ copy_label }</span>
                    }
                } else {
                    <span class="my-id pending" role="status"><span class="spinner" />{ tr(Text::SignalConnecting) }</span>
                }
            </div>
            <form class="join-row" onsubmit={onsubmit} novalidate=true>
                <input id="call-id-input" ref={input} type="text" autocomplete="off" spellcheck="false"
                    placeholder={tr(Text::CallIdPlaceholder)} aria-label={tr(Text::CallIdPlaceholder)}
                    aria-invalid={error.is_some().to_string()}
                    aria-describedby={error.is_some().then_some("call-id-error")} />
                <button id="call-button" type="submit" class="button secondary" disabled={my_id.is_none()}>
                    <Icon kind={IconKind::Phone} size={18} />
                    <span>{ tr(Text::CallButton) }</span>
                </button>
            </form>
            if let Some(text) = *error {
                <p class="field-error" id="call-id-error" role="alert">{ tr(text) }</p>
            }
        </section>
    }
}
