use yew::prelude::*;

use crate::hooks::use_text;
use crate::i18n::Text;
use crate::platform::LoadNotice;

/// Props for [`SettingsNoticeBanner`].
#[derive(Properties, PartialEq)]
pub struct SettingsNoticeProps {
    /// The notice, until dismissed.
    pub notice: Option<LoadNotice>,
    /// The user read it.
    pub on_dismiss: Callback<()>,
}

/// Tells the user, once, that their stored settings were damaged and where
/// the damaged copy was kept. Shown above whatever page is open.
#[function_component(SettingsNoticeBanner)]
pub fn settings_notice_banner(props: &SettingsNoticeProps) -> Html {
    let tr = use_text();
    let Some(LoadNotice::Corrupt { backup }) = &props.notice else {
        return html! {};
    };
    let on_dismiss = props.on_dismiss.reform(|_: MouseEvent| ());
    html! {
        <section class="banner warning" id="settings-notice" role="alert">
            <div class="banner-body">
                <strong>{ tr(Text::SettingsCorruptTitle) }</strong>
                <span>{ tr(Text::SettingsCorruptBody) }{ " " }<code>{ backup.clone() }</code></span>
            </div>
            <button class="button secondary small" id="settings-notice-dismiss" onclick={on_dismiss}>
                { tr(Text::Dismiss) }
            </button>
        </section>
    }
}
