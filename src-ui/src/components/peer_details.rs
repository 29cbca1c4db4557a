use yew::prelude::*;

use crate::call::quality::Quality;
use crate::components::{Icon, IconKind, QualityPanel, SafetyCode};
use crate::hooks::use_text;
use crate::i18n::{fill, Text, ToolText};

/// Props for [`PeerDetails`].
#[derive(Properties, PartialEq)]
pub struct PeerDetailsProps {
    /// Whose connection.
    pub name: AttrValue,
    /// Their key (`data-key`).
    pub peer_key: u32,
    /// The connection's safety code, once known.
    pub safety_code: Option<AttrValue>,
    /// The code changed during the call.
    pub safety_changed: bool,
    /// The latest quality reading.
    pub quality: Option<Quality>,
    /// Close the panel.
    pub on_close: Callback<()>,
    /// Send them a file (`None`: the call's engine can't send files).
    pub on_send_file: Option<Callback<()>>,
    /// Why the tools are missing, when the call's engine has none (the
    /// native engine: no statistics, safety code or files yet).
    #[prop_or_default]
    pub unavailable: Option<AttrValue>,
}

/// The side panel about one person's connection: its safety code and its
/// live quality.
#[function_component(PeerDetails)]
pub fn peer_details(props: &PeerDetailsProps) -> Html {
    let tr = use_text();
    let on_close = props.on_close.reform(|_: MouseEvent| ());
    html! {
        <aside id="details-panel" class="side-panel details-panel" data-key={props.peer_key.to_string()}
            aria-label={fill(tr(Text::Tool(ToolText::DetailsTitle)), &props.name)}>
            <header class="chat-header">
                <h2>{ fill(tr(Text::Tool(ToolText::DetailsTitle)), &props.name) }</h2>
                <button class="icon-button" id="details-close" aria-label={tr(Text::Tool(ToolText::DetailsClose))}
                    title={tr(Text::Tool(ToolText::DetailsClose))} onclick={on_close}>
                    <Icon kind={IconKind::Close} />
                </button>
            </header>
            <div class="details-body">
                if let Some(why) = props.unavailable.clone() {
                    <p class="hint" id="tools-unavailable">{ why }</p>
                } else {
                    <SafetyCode code={props.safety_code.clone()} name={props.name.clone()} changed={props.safety_changed} />
                    <QualityPanel quality={props.quality.clone()} />
                }
                if let Some(on_send_file) = &props.on_send_file {
                    <button id="send-file-to" class="button secondary" onclick={on_send_file.reform(|_: MouseEvent| ())}>
                        <Icon kind={IconKind::Paperclip} size={18} />
                        <span>{ fill(tr(Text::Tool(ToolText::SendFileTo)), &props.name) }</span>
                    </button>
                }
            </div>
        </aside>
    }
}
