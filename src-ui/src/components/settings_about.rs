use yew::prelude::*;

use crate::hooks::use_text;
use crate::i18n::{Text, ToolText};

/// Props for [`AboutSection`].
#[derive(Properties, PartialEq)]
pub struct AboutSectionProps {
    /// Where the settings are kept.
    pub path: AttrValue,
    /// Resets every setting (after the user confirms).
    pub on_reset: Callback<()>,
    /// The call engine can share a screen here.
    #[prop_or(true)]
    pub screen_share: bool,
}

/// Version, where settings live, and reset.
#[function_component(AboutSection)]
pub fn about_section(props: &AboutSectionProps) -> Html {
    let tr = use_text();
    let confirming = use_state(|| false);
    let on_reset_click = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(true))
    };
    let on_confirm = {
        let confirming = confirming.clone();
        let on_reset = props.on_reset.clone();
        Callback::from(move |_| {
            confirming.set(false);
            on_reset.emit(());
        })
    };
    let on_cancel = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(false))
    };
    html! {
        <section class="settings-section" aria-labelledby="section-about">
            <h2 id="section-about">{ tr(Text::SectionAbout) }</h2>
            <dl class="about-list">
                <dt>{ tr(Text::Version) }</dt>
                <dd id="app-version">{ concat!("Peercall ", env!("CARGO_PKG_VERSION")) }</dd>
                <dt>{ tr(Text::SettingsLocation) }</dt>
                <dd><code id="settings-path">{ props.path.clone() }</code></dd>
                <dt>{ tr(Text::Tool(ToolText::ScreenShareSupport)) }</dt>
                <dd id="screen-share-support" data-available={props.screen_share.to_string()}>
                    { tr(Text::Tool(if props.screen_share { ToolText::ScreenShareAvailable } else { ToolText::ScreenShareMissing })) }
                </dd>
            </dl>
            if *confirming {
                <div class="confirm-row" role="alertdialog" aria-labelledby="reset-question">
                    <span id="reset-question">{ tr(Text::ResetConfirm) }</span>
                    <button class="button danger small" id="reset-confirm" onclick={on_confirm}>{ tr(Text::ResetDefaults) }</button>
                    <button class="button secondary small" onclick={on_cancel}>{ tr(Text::Back) }</button>
                </div>
            } else {
                <button class="button secondary" id="reset-settings" onclick={on_reset_click}>{ tr(Text::ResetDefaults) }</button>
            }
        </section>
    }
}
