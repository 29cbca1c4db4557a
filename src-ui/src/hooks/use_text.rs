use yew::prelude::*;

use crate::i18n::{t, Lang, Text};

/// The translator for the current language: `let tr = use_text(); tr(Text::Join)`.
#[hook]
pub fn use_text() -> impl Fn(Text) -> &'static str {
    let lang = use_context::<Lang>().unwrap_or_default();
    move |text| t(lang, text)
}
