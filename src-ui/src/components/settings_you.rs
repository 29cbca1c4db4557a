use peercall_signal::settings::{FieldError, Language, Settings};
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::SelectField;
use crate::field_errors::message_for;
use crate::hooks::use_text;
use crate::i18n::Text;

/// Props for [`YouSection`].
#[derive(Properties, PartialEq)]
pub struct YouSectionProps {
    /// The settings in force.
    pub settings: Settings,
    /// Errors from the last save.
    pub errors: Rc<Vec<FieldError>>,
    /// Saves a changed copy.
    pub on_save: Callback<Settings>,
}

/// Name and language.
#[function_component(YouSection)]
pub fn you_section(props: &YouSectionProps) -> Html {
    let tr = use_text();
    let on_name = {
        let settings = props.settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let mut next = settings.clone();
            next.display_name = input.value().trim().to_owned();
            if next != settings {
                on_save.emit(next);
            }
        })
    };
    let on_language = {
        let settings = props.settings.clone();
        let on_save = props.on_save.clone();
        Callback::from(move |value: String| {
            let mut next = settings.clone();
            next.language = match value.as_str() {
                "en" => Language::En,
                "ko" => Language::Ko,
                _ => Language::System,
            };
            on_save.emit(next);
        })
    };
    let language = match props.settings.language {
        Language::System => "system",
        Language::En => "en",
        Language::Ko => "ko",
    };
    let name_error = message_for(&props.errors, "display_name");
    html! {
        <section class="settings-section" aria-labelledby="section-you">
            <h2 id="section-you">{ tr(Text::SectionYou) }</h2>
            <div class="field">
                <label for="display-name">{ tr(Text::DisplayName) }</label>
                <input id="display-name" type="text" maxlength="80" autocomplete="name"
                    value={props.settings.display_name.clone()}
                    placeholder={tr(Text::DisplayNamePlaceholder)}
                    aria-invalid={name_error.is_some().to_string()}
                    aria-describedby={if name_error.is_some() { "display-name-error" } else { "display-name-hint" }}
                    onchange={on_name} />
                if let Some(error) = name_error {
                    <p class="field-error" id="display-name-error" role="alert">{ tr(error) }</p>
                } else {
                    <p class="field-hint" id="display-name-hint">{ tr(Text::DisplayNameHint) }</p>
                }
            </div>
            <SelectField id="language" label={tr(Text::Language)} selected={language.to_owned()}
                options={vec![
                    ("system".to_owned(), tr(Text::LanguageSystem).to_owned()),
                    ("en".to_owned(), "English".to_owned()),
                    ("ko".to_owned(), "한국어".to_owned()),
                ]}
                on_change={on_language} />
        </section>
    }
}
