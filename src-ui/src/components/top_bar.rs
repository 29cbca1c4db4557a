use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::Text;

/// Props for [`TopBar`].
#[derive(Properties, PartialEq)]
pub struct TopBarProps {
    /// Shown at the right, before the settings button (status badges).
    #[prop_or_default]
    pub children: Html,
    /// Opens settings; no button when `None`.
    #[prop_or_default]
    pub on_settings: Option<Callback<()>>,
}

/// The brand on the left, status and the settings gear on the right.
#[function_component(TopBar)]
pub fn top_bar(props: &TopBarProps) -> Html {
    let tr = use_text();
    let settings = props.on_settings.clone().map(|on_settings| {
        let onclick = Callback::from(move |_| on_settings.emit(()));
        html! {
            <button class="icon-button" id="open-settings" aria-label={tr(Text::Settings)} title={tr(Text::Settings)} {onclick}>
                <Icon kind={IconKind::Settings} />
            </button>
        }
    });
    html! {
        <header class="top-bar">
            <div class="brand">
                <span class="brand-mark"><Icon kind={IconKind::Logo} size={22} /></span>
                <span class="brand-name">{ "Peercall" }</span>
            </div>
            <div class="top-bar-end">
                { props.children.clone() }
                { for settings }
            </div>
        </header>
    }
}
