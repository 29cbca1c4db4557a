use yew::prelude::*;

use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{Text, ToolText};

/// Props for [`ScreenBanner`].
#[derive(Properties, PartialEq)]
pub struct ScreenBannerProps {
    /// We share our screen.
    pub sharing: bool,
    /// Sharing just failed.
    pub failed: bool,
    /// Stop sharing.
    pub on_stop: Callback<()>,
    /// Hide the failure.
    pub on_dismiss: Callback<()>,
}

/// Over the stage: "You are sharing your screen" with a stop button, or
/// why sharing failed.
#[function_component(ScreenBanner)]
pub fn screen_banner(props: &ScreenBannerProps) -> Html {
    let tr = use_text();
    html! {
        <>
            if props.sharing {
                <div class="sharing-banner" id="sharing-banner" role="status">
                    <Icon kind={IconKind::Screen} size={16} />
                    <span>{ tr(Text::Tool(ToolText::SharingNow)) }</span>
                    <button class="button small" onclick={props.on_stop.reform(|_: MouseEvent| ())}>
                        { tr(Text::Tool(ToolText::StopSharing)) }
                    </button>
                </div>
            }
            if props.failed {
                <div class="media-notice" id="screen-failed" role="alert">
                    <p class="media-notice-text">{ tr(Text::Tool(ToolText::ShareFailed)) }</p>
                    <button class="icon-button" aria-label={tr(Text::Dismiss)}
                        onclick={props.on_dismiss.reform(|_: MouseEvent| ())}>
                        <Icon kind={IconKind::Close} />
                    </button>
                </div>
            }
        </>
    }
}
