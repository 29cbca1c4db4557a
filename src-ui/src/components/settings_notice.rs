use yew::prelude::*;

use crate::app::AppContext;
use crate::hooks::use_text;
use crate::i18n::Text;
use crate::platform::LoadNotice;
use crate::state::Action;

/// Tells the user, once, that their stored settings were damaged and where
/// the damaged copy was kept. Shown above whatever page is open.
#[function_component(SettingsNoticeBanner)]
pub fn settings_notice_banner() -> Html {
    let tr = use_text();
    let app = use_context::<AppContext>().expect("AppContext");
    let Some(LoadNotice::Corrupt { backup }) = &app.settings_notice else {
        return html! {};
    };
    let on_dismiss = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::DismissSettingsNotice))
    };
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
