use yew::prelude::*;

use crate::components::{Avatar, Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{fill, Text};
use crate::state::IncomingCall;

/// Props for [`IncomingCallPrompt`].
#[derive(Properties, PartialEq)]
pub struct IncomingCallProps {
    /// Who is calling.
    pub call: IncomingCall,
    /// Take the call.
    pub on_accept: Callback<()>,
    /// Refuse it.
    pub on_decline: Callback<()>,
}

/// "Jisoo is calling": accept or decline, on whatever screen is showing.
#[function_component(IncomingCallPrompt)]
pub fn incoming_call_prompt(props: &IncomingCallProps) -> Html {
    let tr = use_text();
    let name = props.call.name.clone().filter(|n| !n.trim().is_empty());
    let title = match &name {
        Some(name) => fill(tr(Text::IncomingTitle), name),
        None => tr(Text::IncomingUnknown).to_owned(),
    };
    let click = |cb: &Callback<()>| {
        let cb = cb.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    html! {
        <div class="prompt-backdrop">
            <section id="incoming-call" class="prompt" role="alertdialog" aria-labelledby="incoming-title"
                data-from={props.call.from.to_string()}>
                <div class="prompt-avatar ringing">
                    <Avatar name={name.clone().unwrap_or_else(|| props.call.from.to_string())} size={72} />
                </div>
                <h2 id="incoming-title">{ title }</h2>
                <p class="prompt-id">{ fill(tr(Text::IncomingFrom), props.call.from.as_str()) }</p>
                <div class="prompt-actions">
                    <button id="decline-call" class="button danger" onclick={click(&props.on_decline)}>
                        <Icon kind={IconKind::HangUp} size={20} />
                        <span>{ tr(Text::Decline) }</span>
                    </button>
                    <button id="accept-call" class="button accept" onclick={click(&props.on_accept)} autofocus=true>
                        <Icon kind={IconKind::Phone} size={18} />
                        <span>{ tr(Text::Accept) }</span>
                    </button>
                </div>
            </section>
        </div>
    }
}
