use yew::prelude::*;

use crate::call::transfer::{TransferId, TransferState, TransferView};
use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{fill, Text, ToolText};

/// Props for [`TransferList`].
#[derive(Properties, PartialEq)]
pub struct TransferListProps {
    /// The transfers, newest last.
    pub transfers: Vec<TransferView>,
    /// Accept (`true`) or decline an offered file.
    pub on_answer: Callback<(TransferId, bool)>,
    /// Stop a transfer.
    pub on_cancel: Callback<TransferId>,
    /// Take a finished one off the list.
    pub on_dismiss: Callback<TransferId>,
}

/// Files coming and going: an offer to accept or decline, progress (bytes,
/// rate, time left) with a cancel button, and how each one ended.
#[function_component(TransferList)]
pub fn transfer_list(props: &TransferListProps) -> Html {
    let tr = use_text();
    if props.transfers.is_empty() {
        return html! {};
    }
    let tool = |t| tr(Text::Tool(t));
    let cards = props.transfers.iter().map(|t| {
        let who = if t.peer_name.is_empty() { tr(Text::SomeoneName).to_owned() } else { t.peer_name.clone() };
        let direction = fill(tool(if t.incoming { ToolText::FileFrom } else { ToolText::FileTo }), &who);
        let percent = if t.size > 0 { t.bytes as f64 * 100.0 / t.size as f64 } else { 100.0 };
        let status = match t.state {
            TransferState::Preparing => tool(ToolText::FilePreparing).to_owned(),
            TransferState::Offered if t.incoming => fill(tool(ToolText::FileOffered), &who),
            TransferState::Offered => fill(tool(ToolText::FileWaiting), &who),
            TransferState::Moving => {
                let left = t
                    .seconds_left()
                    .map(|s| format!(" · {} {}", duration(s), tool(ToolText::FileLeft)))
                    .unwrap_or_default();
                format!("{} {} {} · {}/s{left}", size(t.bytes), tool(ToolText::FileOf), size(t.size), size(t.rate as u64))
            }
            TransferState::Checking => fill(tool(ToolText::FileChecking), &who),
            TransferState::Done if t.incoming => tool(ToolText::FileReceived).to_owned(),
            TransferState::Done => tool(ToolText::FileDelivered).to_owned(),
            TransferState::Declined if t.incoming => tool(ToolText::FileDeclinedByUs).to_owned(),
            TransferState::Declined => fill(tool(ToolText::FileDeclinedByThem), &who),
            TransferState::Cancelled(true) => tool(ToolText::FileCancelledByUs).to_owned(),
            TransferState::Cancelled(false) => fill(tool(ToolText::FileCancelledByThem), &who),
            TransferState::PeerLeft => fill(tool(ToolText::FilePeerLeft), &who),
            TransferState::Corrupt => tool(ToolText::FileCorrupt).to_owned(),
            TransferState::Failed => tool(ToolText::FileFailed).to_owned(),
        };
        let id = t.id;
        let answer = |accept: bool| props.on_answer.reform(move |_: MouseEvent| (id, accept));
        let cancel = props.on_cancel.reform(move |_: MouseEvent| id);
        let dismiss = props.on_dismiss.reform(move |_: MouseEvent| id);
        let bad = matches!(t.state, TransferState::PeerLeft | TransferState::Corrupt | TransferState::Failed);
        html! {
            <li key={t.id} class={classes!("transfer", bad.then_some("bad"))} data-state={t.state.as_str()}
                data-incoming={t.incoming.to_string()} data-bytes={t.bytes.to_string()} data-size={t.size.to_string()}
                data-name={t.name.clone()}>
                <div class="transfer-head">
                    <Icon kind={IconKind::File} size={18} />
                    <div class="transfer-title">
                        <span class="transfer-name">{ &t.name }</span>
                        <span class="transfer-meta">{ format!("{direction} · {}", size(t.size)) }</span>
                    </div>
                    if t.state.finished() {
                        <button class="icon-button transfer-dismiss" aria-label={tr(Text::Dismiss)} title={tr(Text::Dismiss)} onclick={dismiss}>
                            <Icon kind={IconKind::Close} size={16} />
                        </button>
                    }
                </div>
                if matches!(t.state, TransferState::Moving | TransferState::Preparing | TransferState::Checking) {
                    <div class="transfer-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
                        aria-valuenow={format!("{percent:.0}")}>
                        <div class="transfer-fill" style={format!("width:{percent:.1}%")} />
                    </div>
                }
                <p class="transfer-status" role="status">{ status }</p>
                if t.state == TransferState::Offered && t.incoming {
                    <div class="transfer-actions">
                        <button class="button small accept transfer-accept" onclick={answer(true)}>{ tr(Text::Accept) }</button>
                        <button class="button small secondary transfer-decline" onclick={answer(false)}>{ tr(Text::Decline) }</button>
                    </div>
                } else if !t.state.finished() {
                    <div class="transfer-actions">
                        <button class="button small secondary transfer-cancel" onclick={cancel}>{ tr(Text::Cancel) }</button>
                    </div>
                }
            </li>
        }
    });
    html! {
        <section id="transfers" class="transfers" aria-label={tool(ToolText::Transfers)}>
            <ol>{ for cards }</ol>
        </section>
    }
}

/// Bytes as people read them (decimal units).
fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// `4 s`, `2 min 5 s`.
fn duration(seconds: f64) -> String {
    let s = seconds.ceil() as u64;
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}
