use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

use crate::call::Engine;

/// Sending files: a hidden file field the page renders (`input`), `pick`
/// to open it for one participant (`Some(key)`) or everyone, what the field
/// does when a file is chosen (`on_change`), and dropping a file on the
/// stage (`on_drag_over`, `on_drop`: to everyone).
pub struct FileSend {
    /// The hidden `<input type=file>`.
    pub input: NodeRef,
    /// Opens the picker for `to` (`None`: everyone).
    pub pick: Callback<Option<u32>>,
    /// The field's `change`.
    pub on_change: Callback<Event>,
    /// The stage's `dragover` (lets a drop happen).
    pub on_drag_over: Callback<DragEvent>,
    /// The stage's `drop`.
    pub on_drop: Callback<DragEvent>,
}

/// Wires the file field and the stage to [`Engine::send_file`](crate::call::CallEngine::send_file).
#[hook]
pub fn use_file_send(engine: Engine) -> FileSend {
    let input = use_node_ref();
    let target = use_mut_ref(|| None::<u32>);
    let pick = {
        let (input, target) = (input.clone(), target.clone());
        Callback::from(move |to: Option<u32>| {
            *target.borrow_mut() = to;
            if let Some(input) = input.cast::<HtmlInputElement>() {
                input.click();
            }
        })
    };
    let on_change = {
        let engine = engine.clone();
        Callback::from(move |event: Event| {
            let Some(input) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            else {
                return;
            };
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                engine.send_file(file, *target.borrow());
            }
            // The same file may be chosen again.
            input.set_value("");
        })
    };
    let on_drag_over = Callback::from(|event: DragEvent| event.prevent_default());
    let on_drop = Callback::from(move |event: DragEvent| {
        event.prevent_default();
        let file = event
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|files| files.get(0));
        if let Some(file) = file {
            engine.send_file(file, None);
        }
    });
    FileSend {
        input,
        pick,
        on_change,
        on_drag_over,
        on_drop,
    }
}
