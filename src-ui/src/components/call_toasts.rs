use gloo::timers::callback::Timeout;
use yew::prelude::*;

use crate::call_state::Toast;
use crate::hooks::use_text;
use crate::i18n::{fill, Text};

/// How long a notice stays on screen.
const TOAST_MS: u32 = 4_000;

/// Props for [`CallToasts`].
#[derive(Properties, PartialEq)]
pub struct CallToastsProps {
    /// The notices to show, oldest first.
    pub toasts: Vec<Toast>,
    /// A notice has been on screen long enough.
    pub on_dismiss: Callback<u64>,
}

/// Short notices over the stage ("Alice left"), each gone by itself after a
/// few seconds; read out by screen readers as they come.
#[function_component(CallToasts)]
pub fn call_toasts(props: &CallToastsProps) -> Html {
    html! {
        <div class="call-toasts" id="call-toasts" role="status" aria-live="polite">
            { for props.toasts.iter().map(|toast| html! {
                <ToastItem key={toast.seq} toast={toast.clone()} on_dismiss={props.on_dismiss.clone()} />
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ToastItemProps {
    toast: Toast,
    on_dismiss: Callback<u64>,
}

#[function_component(ToastItem)]
fn toast_item(props: &ToastItemProps) -> Html {
    let tr = use_text();
    {
        let (seq, on_dismiss) = (props.toast.seq, props.on_dismiss.clone());
        use_effect_with(seq, move |seq| {
            let seq = *seq;
            let timer = Timeout::new(TOAST_MS, move || on_dismiss.emit(seq));
            move || drop(timer)
        });
    }
    let name = if props.toast.left.is_empty() {
        tr(Text::SomeoneName).to_owned()
    } else {
        props.toast.left.clone()
    };
    html! {
        <div class="toast" data-kind="left">{ fill(tr(Text::PersonLeft), &name) }</div>
    }
}
