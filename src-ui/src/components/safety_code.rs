use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{fill, Text, ToolText};

/// Props for [`SafetyCode`].
#[derive(Properties, PartialEq)]
pub struct SafetyCodeProps {
    /// The code (`None` until the connection is set up).
    pub code: Option<AttrValue>,
    /// The other person's name.
    pub name: AttrValue,
    /// The code changed during the call.
    #[prop_or_default]
    pub changed: bool,
}

/// The connection's safety code, large, with what to do with it.
#[function_component(SafetyCode)]
pub fn safety_code(props: &SafetyCodeProps) -> Html {
    let tr = use_text();
    let tool = |t| tr(Text::Tool(t));
    html! {
        <section class="details-section safety" aria-labelledby="safety-title">
            <h3 id="safety-title"><Icon kind={IconKind::Shield} size={16} />{ tool(ToolText::SafetyTitle) }</h3>
            if let Some(code) = &props.code {
                <p id="safety-code" class="safety-code" data-changed={props.changed.to_string()}>{ code.clone() }</p>
                if props.changed {
                    <p id="safety-changed" class="safety-changed" role="alert">
                        { fill(tool(ToolText::SafetyChanged), &props.name) }
                    </p>
                }
                <p class="details-hint">{ fill(tool(ToolText::SafetyExplain), &props.name) }</p>
            } else {
                <p class="details-hint">{ tool(ToolText::SafetyPending) }</p>
            }
        </section>
    }
}
