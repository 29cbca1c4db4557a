use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};
use yew::prelude::*;

/// Calls `on_key` with the lowercased key of every plain key press (no
/// Ctrl/Alt/Meta) made outside text fields, so single-letter shortcuts never
/// eat typing. `Escape` is passed as `"escape"`, even from text fields.
///
/// `on_key` answers whether the key was a shortcut; if so the key press is
/// consumed (`preventDefault`), so a shortcut that moves focus into a field
/// (C opens the chat and focuses its input) never types its own letter there.
#[hook]
pub fn use_shortcuts(on_key: Callback<String, bool>) {
    use_effect_with(on_key, |on_key| {
        let on_key = on_key.clone();
        let listener = EventListener::new_with_options(
            &gloo::utils::document(),
            "keydown",
            EventListenerOptions::enable_prevent_default(),
            move |event| {
                let Some(event) = event.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                if event.ctrl_key() || event.alt_key() || event.meta_key() || event.repeat() {
                    return;
                }
                let key = event.key().to_lowercase();
                let typing = gloo::utils::document()
                    .active_element()
                    .and_then(|e| e.dyn_into::<HtmlElement>().ok())
                    .is_some_and(|e| {
                        matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                            || e.is_content_editable()
                    });
                if (key == "escape" || !typing) && on_key.emit(key) {
                    event.prevent_default();
                }
            },
        );
        move || drop(listener)
    });
}
