use yew::prelude::*;

use crate::call::EndReason;
use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{fill, Text};

/// Props for [`CallEnded`].
#[derive(Properties, PartialEq)]
pub struct CallEndedProps {
    /// Why it ended.
    pub reason: EndReason,
    /// The other person's name (direct calls; empty when they gave none).
    #[prop_or_default]
    pub name: AttrValue,
    /// Whether this was a direct call ("Call again" rather than "Rejoin").
    #[prop_or_default]
    pub direct: bool,
    /// Rejoin / call again.
    pub on_again: Callback<()>,
    /// Back to the home screen.
    pub on_home: Callback<()>,
}

/// The screen after a call: what happened, and where to go next.
#[function_component(CallEnded)]
pub fn call_ended(props: &CallEndedProps) -> Html {
    let tr = use_text();
    let named = |text: Text, unnamed: Text| {
        if props.name.is_empty() {
            tr(unnamed).to_owned()
        } else {
            fill(tr(text), &props.name)
        }
    };
    let (title, hint) = match props.reason {
        EndReason::Left => (tr(Text::EndedLeft).to_owned(), Some(Text::EndedLeftHint)),
        EndReason::Declined => (
            named(Text::EndedDeclined, Text::EndedDeclinedUnnamed),
            Some(Text::EndedDeclinedHint),
        ),
        EndReason::HungUp => (named(Text::EndedHungUp, Text::EndedHungUpUnnamed), None),
        EndReason::Unreachable => (
            tr(Text::EndedUnreachable).to_owned(),
            Some(Text::EndedUnreachableHint),
        ),
        EndReason::RoomFull => (
            tr(Text::EndedRoomFull).to_owned(),
            Some(Text::EndedRoomFullHint),
        ),
        EndReason::Refused => (
            tr(Text::EndedRefused).to_owned(),
            Some(Text::EndedRefusedHint),
        ),
        EndReason::WrongPassword => (
            tr(Text::EndedWrongPassword).to_owned(),
            Some(Text::EndedWrongPasswordHint),
        ),
        EndReason::TooManyAttempts => (
            tr(Text::EndedTooManyAttempts).to_owned(),
            Some(Text::EndedTooManyAttemptsHint),
        ),
        EndReason::VersionMismatch => (
            tr(Text::EndedVersionMismatch).to_owned(),
            Some(Text::EndedVersionMismatchHint),
        ),
        EndReason::HostEnded => (
            tr(Text::EndedHostEnded).to_owned(),
            Some(Text::EndedHostEndedHint),
        ),
    };
    let click = |cb: &Callback<()>| {
        let cb = cb.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    let again = match (props.direct, props.reason) {
        (true, _) => tr(Text::CallAgain),
        (false, EndReason::Left) => tr(Text::Rejoin),
        (false, _) => tr(Text::TryAgain),
    };
    html! {
        <section id="call-ended" class="call-ended" data-reason={props.reason.as_str()} role="status">
            <h1>{ title }</h1>
            if let Some(hint) = hint {
                <p class="hint">{ tr(hint) }</p>
            }
            <div class="call-ended-actions">
                <button id="back-home" class="button secondary" onclick={click(&props.on_home)}>
                    <Icon kind={IconKind::ArrowLeft} size={18} />
                    <span>{ tr(Text::BackHome) }</span>
                </button>
                if !matches!(props.reason, EndReason::Refused | EndReason::VersionMismatch | EndReason::HostEnded) {
                    <button id="call-again" class="button primary" onclick={click(&props.on_again)}>
                        <Icon kind={if props.direct { IconKind::Phone } else { IconKind::ArrowRight }} size={18} />
                        <span>{ again }</span>
                    </button>
                }
            </div>
        </section>
    }
}
