use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::{copy_label, use_copy, use_text};
use crate::i18n::Text;

/// Props for [`WaitingCard`].
#[derive(Properties, PartialEq)]
pub struct WaitingCardProps {
    /// The room's invite link, once the server's address is known.
    pub invite: Option<AttrValue>,
}

/// Alone in a room: says so, and hands over the invite link.
#[function_component(WaitingCard)]
pub fn waiting_card(props: &WaitingCardProps) -> Html {
    let tr = use_text();
    let (copy, copied) = use_copy();
    let onclick = {
        let invite = props.invite.clone();
        Callback::from(move |_| {
            if let Some(invite) = &invite {
                copy.emit(invite.to_string());
            }
        })
    };
    let label = tr(copy_label(copied, Text::CopyInvite, Text::InviteCopied));
    html! {
        <div class="stage-card" id="waiting" role="status">
            <h2>{ tr(Text::WaitingAlone) }</h2>
            <p class="hint">{ tr(Text::WaitingAloneHint) }</p>
            if let Some(invite) = &props.invite {
                <code class="invite-link" id="invite-link">{ invite.clone() }</code>
                <button id="copy-invite-card" class="button primary" {onclick} aria-live="polite">
                    <Icon kind={IconKind::Copy} size={18} />
                    <span>{ label }</span>
                </button>
            }
        </div>
    }
}
