use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};
use yew::prelude::*;

/// Calls `on_key` with the lowercased key of every plain key press (no
/// Ctrl/Alt/Meta) made outside text fields, so single-letter shortcuts never
/// eat typing. `Escape` is passed as `"escape"`, even from text fields.
#[hook]
pub fn use_shortcuts(on_key: Callback<String>) {
    use_effect_with(on_key, |on_key| {
        let on_key = on_key.clone();
        let listener = EventListener::new(&gloo::utils::document(), "keydown", move |event| {
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
            if key == "escape" || !typing {
                on_key.emit(key);
            }
        });
        move || drop(listener)
    });
}
