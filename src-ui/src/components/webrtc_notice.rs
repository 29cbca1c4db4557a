use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::Text;
use crate::platform::WebRtcSupport;

/// Props for [`WebRtcNotice`].
#[derive(Properties, PartialEq)]
pub struct WebRtcNoticeProps {
    /// What the engine lacks.
    pub support: WebRtcSupport,
    /// Opens the call in the system browser.
    pub on_open_browser: Callback<()>,
    /// What happened after the last click, if anything.
    #[prop_or_default]
    pub outcome: Option<Result<(), ()>>,
}

/// Says plainly that this webview can't carry calls, and offers the browser.
#[function_component(WebRtcNotice)]
pub fn webrtc_notice(props: &WebRtcNoticeProps) -> Html {
    let tr = use_text();
    let onclick = {
        let cb = props.on_open_browser.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let outcome = match props.outcome {
        Some(Ok(())) => {
            html! { <p class="notice-outcome ok" role="status">{ tr(Text::OpenedInBrowser) }</p> }
        }
        Some(Err(())) => {
            html! { <p class="notice-outcome error" role="alert">{ tr(Text::OpenFailed) }</p> }
        }
        None => html! {},
    };
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
