use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::{copy_label, use_copy, use_text};
use crate::i18n::Text;
use crate::state::SignalStatus;

/// Props for [`CallHeader`].
#[derive(Properties, PartialEq)]
pub struct CallHeaderProps {
    /// What the call is called: the room code, or the other person's name.
    pub title: AttrValue,
    /// The room code (rooms only): shown with a copy-invite button.
    #[prop_or_default]
    pub room: Option<AttrValue>,
    /// The invite link for the room.
    #[prop_or_default]
    pub invite: Option<AttrValue>,
    /// The signaling connection.
    pub signal: SignalStatus,
    /// How many people are in the call, us included.
    pub people: usize,
}

/// The call's name and invite on the left; the people count and the server
/// connection on the right — quiet while all is well, loud when it isn't.
#[function_component(CallHeader)]
pub fn call_header(props: &CallHeaderProps) -> Html {
    let tr = use_text();
    let (copy, copied) = use_copy();
    let on_copy = {
        let invite = props.invite.clone();
        Callback::from(move |_| {
            if let Some(invite) = &invite {
                copy.emit(invite.to_string());
            }
        })
    };
    let signal = match &props.signal {
        SignalStatus::Online(_) => html! {
            <span id="signal-status" class="badge quiet" data-state="online" title={tr(Text::SignalOnline)}>
                <span class="dot ok" /><span class="badge-text">{ tr(Text::SignalOnline) }</span>
            </span>
        },
        SignalStatus::Connecting => html! {
            <span id="signal-status" class="badge" data-state="connecting" role="status">
                <span class="spinner" /><span>{ tr(Text::SignalConnecting) }</span>
            </span>
        },
        SignalStatus::Offline => html! {
            <span id="signal-status" class="badge warn" data-state="offline" role="status"
                title={tr(Text::SignalOfflineHint)}>
                <span class="spinner" /><span>{ tr(Text::SignalOffline) }</span>
            </span>
        },
    };
    let copy_label = tr(copy_label(copied, Text::CopyInvite, Text::InviteCopied));
    html! {
        <header class="call-header">
            <div class="call-title">
                <span class="brand-mark small"><Icon kind={IconKind::Logo} size={18} /></span>
                if let Some(room) = &props.room {
                    <span class="call-room">
                        <span class="call-room-label">{ tr(Text::CallRoom) }</span>
                        <span id="room-code" class="call-room-code">{ room.clone() }</span>
                    </span>
                    if props.invite.is_some() {
                        <button id="copy-invite" class={classes!("button", "ghost", "small", copied.map(|ok| if ok { "ok" } else { "error" }))}
                            onclick={on_copy} aria-live="polite">
                            <Icon kind={if copied == Some(true) { IconKind::Copy } else { IconKind::Link }} size={16} />
                            <span>{ copy_label }</span>
                        </button>
                    }
                } else {
                    <span id="call-title" class="call-room-code">{ props.title.clone() }</span>
                }
            </div>
            <div class="call-header-end">
                { signal }
                <span id="people-count" class="badge quiet" title={tr(Text::PeopleInCall)}
                    aria-label={format!("{}: {}", tr(Text::PeopleInCall), props.people)}>
                    <Icon kind={IconKind::Users} size={16} /><span>{ props.people }</span>
                </span>
            </div>
        </header>
    }
}
