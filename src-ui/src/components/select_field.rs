use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Props for [`SelectField`].
#[derive(Properties, PartialEq)]
pub struct SelectFieldProps {
    /// Element id.
    pub id: AttrValue,
    /// Label text.
    pub label: AttrValue,
    /// `(value, text)` pairs.
    pub options: Vec<(String, String)>,
    /// The selected value.
    pub selected: String,
    /// Called with the chosen value.
    pub on_change: Callback<String>,
    /// Message under the field when its value was refused.
    #[prop_or_default]
    pub error: Option<AttrValue>,
}

/// A labelled drop-down.
#[function_component(SelectField)]
pub fn select_field(props: &SelectFieldProps) -> Html {
    let onchange = {
        let on_change = props.on_change.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            on_change.emit(select.value());
        })
    };
    let error_id = format!("{}-error", props.id);
    html! {
        <div class="field">
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            <select id={props.id.clone()} {onchange} aria-invalid={props.error.is_some().to_string()}
                aria-describedby={props.error.as_ref().map(|_| error_id.clone())}>
                { for props.options.iter().map(|(value, text)| html! {
                    <option value={value.clone()} selected={*value == props.selected}>{ text.clone() }</option>
                }) }
            </select>
            if let Some(error) = &props.error {
                <p class="field-error" id={error_id} role="alert">{ error.clone() }</p>
            }
        </div>
    }
}
