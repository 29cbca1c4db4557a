use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::use_text;
use crate::i18n::Text;

/// Props for [`NameField`].
#[derive(Properties, PartialEq)]
pub struct NameFieldProps {
    /// The current name.
    pub value: AttrValue,
    /// The name as typed (on every change).
    pub on_change: Callback<String>,
    /// Show "type your name" next to it.
    #[prop_or_default]
    pub missing: bool,
}

/// "Your name", shown to the others on your tile.
#[function_component(NameField)]
pub fn name_field(props: &NameFieldProps) -> Html {
    let tr = use_text();
    let oninput = {
        let cb = props.on_change.clone();
        Callback::from(move |event: InputEvent| {
            let input: HtmlInputElement = event.target_unchecked_into();
            cb.emit(input.value());
        })
    };
    html! {
        <div class="name-field">
            <label for="display-name">{ tr(Text::YourName) }</label>
            <input id="display-name" type="text" autocomplete="name" maxlength="64"
                value={props.value.clone()} {oninput} placeholder={tr(Text::DisplayNamePlaceholder)}
                aria-invalid={props.missing.to_string()}
                aria-describedby={props.missing.then_some("display-name-error")} />
            if props.missing {
                <p class="field-error" id="display-name-error" role="alert">{ tr(Text::NameNeeded) }</p>
            }
        </div>
    }
}
