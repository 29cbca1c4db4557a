use peercall_signal::shell::native::NativeSupport;
use yew::prelude::*;

use crate::hooks::use_text;
use crate::i18n::{fill, Text, ToolText};
use crate::platform::{EngineChoice, Host};

/// Props for [`AboutSection`].
#[derive(Properties, PartialEq)]
pub struct AboutSectionProps {
    /// Where the settings are kept.
    pub path: AttrValue,
    /// Resets every setting (after the user confirms).
    pub on_reset: Callback<()>,
    /// Which call engine runs, and why.
    pub engine: EngineChoice,
    /// What hosts the UI.
    pub host: Host,
    /// The call engine can share a screen here.
    #[prop_or(true)]
    pub screen_share: bool,
}

/// Which engine carries calls, and why, in words: the line, and the reason
/// under it when calls leave the window.
fn engine_words(
    engine: &EngineChoice,
    host: Host,
    tr: &impl Fn(Text) -> &'static str,
) -> (String, Option<String>) {
    match engine {
        EngineChoice::WebView if host == Host::Browser => (tr(Text::EngineTab).to_owned(), None),
        EngineChoice::WebView => (tr(Text::EngineWindow).to_owned(), None),
        EngineChoice::Native { gstreamer } => (fill(tr(Text::EngineNative), gstreamer), None),
        EngineChoice::Browser { why } => {
            let reason = match why {
                Some(NativeSupport::MissingElements { missing }) => {
                    fill(tr(Text::EngineMissing), &missing.join(", "))
                }
                // The shell's own words ("GStreamer could not start: …").
                Some(NativeSupport::Unavailable { reason }) => reason.clone(),
                Some(NativeSupport::NotBuilt) => tr(Text::EngineNotBuilt).to_owned(),
                Some(NativeSupport::Ready { .. }) | None => tr(Text::EngineUnknown).to_owned(),
            };
            (tr(Text::EngineBrowser).to_owned(), Some(reason))
        }
    }
}

/// Version, where settings live, and reset.
#[function_component(AboutSection)]
pub fn about_section(props: &AboutSectionProps) -> Html {
    let tr = use_text();
    let confirming = use_state(|| false);
    let (engine, why) = engine_words(&props.engine, props.host, &tr);
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
                <dt>{ tr(Text::CallEngine) }</dt>
                <dd id="call-engine" data-engine={props.engine.as_str()}>
                    <span>{ engine }</span>
                    if let Some(why) = why {
                        <span class="hint" id="call-engine-why">{ why }</span>
                    }
                </dd>
                <dt>{ tr(Text::SettingsLocation) }</dt>
                <dd><code id="settings-path">{ props.path.clone() }</code></dd>
                <dt>{ tr(Text::Tool(ToolText::ScreenShareSupport)) }</dt>
                <dd id="screen-share-support" data-available={props.screen_share.to_string()}>
                    { tr(Text::Tool(if props.screen_share { ToolText::ScreenShareAvailable } else if props.engine.is_native() { ToolText::NativeTools } else { ToolText::ScreenShareMissing })) }
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
