use yew::prelude::*;

use crate::call::quality::{Level, Quality, Route};
use crate::components::{Icon, IconKind};
use crate::hooks::use_text;
use crate::i18n::{Text, ToolText};

/// Props for [`QualityPanel`].
#[derive(Properties, PartialEq)]
pub struct QualityPanelProps {
    /// The latest reading (`None` until the first one).
    pub quality: Option<Quality>,
}

/// Round trip, loss, jitter, bitrates, video size and rate, codecs and the
/// path in words; refreshed by the page every second while shown.
#[function_component(QualityPanel)]
pub fn quality_panel(props: &QualityPanelProps) -> Html {
    let tr = use_text();
    let tool = |t| tr(Text::Tool(t));
    let Some(q) = &props.quality else {
        return html! {
            <section class="details-section quality" aria-labelledby="quality-title">
                <h3 id="quality-title"><Icon kind={IconKind::Signal} size={16} />{ tool(ToolText::QualityTitle) }</h3>
                <p class="details-hint"><span class="spinner" />{ tool(ToolText::QualityWaiting) }</p>
            </section>
        };
    };
    let ms = |v: Option<f64>| match v {
        Some(v) if v < 10.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.0} ms"),
        None => "–".to_owned(),
    };
    let kbps = |v: Option<f64>| match v {
        Some(v) if v >= 1000.0 => format!("{:.2} Mbit/s", v / 1000.0),
        Some(v) => format!("{v:.0} kbit/s"),
        None => "–".to_owned(),
    };
    let video = match (q.resolution, q.fps) {
        (Some((w, h)), fps) => format!("{w}×{h} · {:.0} fps", fps.unwrap_or(0.0)),
        (None, _) => tool(ToolText::QualityNoVideo).to_owned(),
    };
    let path = q.path.map(|p| {
        let route = match p.route {
            Route::Direct => ToolText::RouteDirect,
            Route::ThroughNat => ToolText::RouteNat,
            Route::Relayed => ToolText::RouteRelay,
        };
        format!(
            "{} ({} {})",
            tool(route),
            tool(ToolText::Over),
            p.transport.as_str()
        )
    });
    let level = match q.level {
        Level::Good => ToolText::LevelGood,
        Level::Fair => ToolText::LevelFair,
        Level::Poor => ToolText::LevelPoor,
    };
    let row = |id: &'static str, label: ToolText, value: String, raw: Option<f64>| {
        html! {
            <>
                <dt>{ tool(label) }</dt>
                <dd id={id} data-value={raw.map(|v| v.to_string())}>{ value }</dd>
            </>
        }
    };
    html! {
        <section class="details-section quality" aria-labelledby="quality-title" data-quality={q.level.as_str()}>
            <h3 id="quality-title"><Icon kind={IconKind::Signal} size={16} />{ tool(ToolText::QualityTitle) }</h3>
            <p class={classes!("quality-level", q.level.as_str())}>{ tool(level) }</p>
            <dl class="quality-list">
                { row("quality-path", ToolText::QualityPath, path.unwrap_or_else(|| "–".into()), None) }
                { row("quality-rtt", ToolText::QualityRtt, ms(q.rtt_ms), q.rtt_ms) }
                { row("quality-loss", ToolText::QualityLoss, format!("{:.1} %", q.loss_percent), Some(q.loss_percent)) }
                { row("quality-jitter", ToolText::QualityJitter, ms(q.jitter_ms), q.jitter_ms) }
                { row("quality-in", ToolText::QualityIn, kbps(q.kbps_in), q.kbps_in) }
                { row("quality-out", ToolText::QualityOut, kbps(q.kbps_out), q.kbps_out) }
                { row("quality-video", ToolText::QualityVideo, video, q.fps) }
                { row("quality-codec", ToolText::QualityCodec, if q.codecs.is_empty() { "–".into() } else { q.codecs.join(", ") }, None) }
            </dl>
        </section>
    }
}
