use gloo::timers::callback::Timeout;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::i18n::Text;

/// How long "Copied" stays on screen.
const FEEDBACK_MS: u32 = 2_500;

/// Copying text to the clipboard, with the outcome to show for a moment:
/// `Some(true)` copied, `Some(false)` failed, `None` nothing to say.
#[hook]
pub fn use_copy() -> (Callback<String>, Option<bool>) {
    let outcome = use_state(|| None::<bool>);
    let timer = use_mut_ref(|| None::<Timeout>);
    let copy = {
        let outcome = outcome.clone();
        Callback::from(move |text: String| {
            let outcome = outcome.clone();
            let timer = timer.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let clipboard = gloo::utils::window().navigator().clipboard();
                let copied = JsFuture::from(clipboard.write_text(&text)).await.is_ok();
                outcome.set(Some(copied));
                let reset = outcome.clone();
                *timer.borrow_mut() = Some(Timeout::new(FEEDBACK_MS, move || reset.set(None)));
            });
        })
    };
    (copy, *outcome)
}

/// The copy button's words for a [`use_copy`] outcome: `idle` before,
/// `done` once copied, the failure otherwise.
pub fn copy_label(copied: Option<bool>, idle: Text, done: Text) -> Text {
    match copied {
        Some(true) => done,
        Some(false) => Text::CopyFailed,
        None => idle,
    }
}
