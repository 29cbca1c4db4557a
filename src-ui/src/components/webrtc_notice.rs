use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::Text;
use crate::platform::WebRtcSupport;

/// What happened when a call was handed to the system browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserOutcome {
    /// The browser opened on the call.
    Opened,
    /// It didn't.
    Failed,
}

impl BrowserOutcome {
    /// The line shown under the buttons.
    pub fn view(&self, tr: &impl Fn(Text) -> &'static str) -> Html {
        match self {
            Self::Opened => html! {
                <p class="notice-outcome ok" id="browser-outcome" data-state="opened" role="status">{ tr(Text::OpenedInBrowser) }</p>
            },
            Self::Failed => html! {
                <p class="notice-outcome error" id="browser-outcome" data-state="failed" role="alert">{ tr(Text::OpenFailed) }</p>
            },
        }
    }
}

/// Props for [`WebRtcNotice`].
#[derive(Properties, PartialEq)]
pub struct WebRtcNoticeProps {
    /// What the engine lacks.
    pub support: WebRtcSupport,
    /// Opens the call in the system browser.
    pub on_open_browser: Callback<()>,
    /// What happened after the last click, if anything.
    #[prop_or_default]
    pub outcome: Option<BrowserOutcome>,
}

/// Says plainly that this webview can't carry calls, and offers the browser.
#[function_component(WebRtcNotice)]
pub fn webrtc_notice(props: &WebRtcNoticeProps) -> Html {
    let tr = use_text();
    let onclick = {
        let cb = props.on_open_browser.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let outcome = props.outcome.map(|o| o.view(&tr)).unwrap_or_default();
    html! {
        <section class="notice" id="webrtc-notice" aria-labelledby="webrtc-notice-title">
            <div class="notice-icon"><Icon kind={IconKind::Globe} size={22} /></div>
            <div class="notice-body">
                <h2 id="webrtc-notice-title">{ tr(Text::NoWebRtcTitle) }</h2>
                <p>{ tr(Text::NoWebRtcBody) }</p>
                if !props.support.get_user_media {
                    <p>{ tr(Text::NoWebRtcNoMedia) }</p>
                }
                { outcome }
            </div>
            <button id="open-in-browser" class="button secondary" {onclick}>
                <Icon kind={IconKind::Globe} size={18} />
                <span>{ tr(Text::OpenInBrowser) }</span>
            </button>
        </section>
    }
}
