use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Props for [`Toggle`].
#[derive(Properties, PartialEq)]
pub struct ToggleProps {
    /// Element id (also ties the label to the switch).
    pub id: AttrValue,
    /// What it turns on or off.
    pub label: AttrValue,
    /// Optional explanation under the label.
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    /// Current value.
    pub checked: bool,
    /// Called with the new value.
    pub on_change: Callback<bool>,
}

/// An on/off switch: a real checkbox (keyboard and screen readers work),
/// drawn as a switch.
#[function_component(Toggle)]
pub fn toggle(props: &ToggleProps) -> Html {
    let onchange = {
        let on_change = props.on_change.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            on_change.emit(input.checked());
        })
    };
    html! {
        <label class="toggle-row" for={props.id.clone()}>
            <span class="toggle-text">
                <span class="toggle-label">{ props.label.clone() }</span>
                if let Some(hint) = &props.hint {
                    <span class="toggle-hint">{ hint.clone() }</span>
                }
            </span>
            <input id={props.id.clone()} type="checkbox" role="switch" class="switch"
                checked={props.checked} {onchange} />
        </label>
    }
}
