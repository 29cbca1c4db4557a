use gloo::timers::callback::Interval;
use web_sys::{AnalyserNode, AudioContext, MediaStream};
use yew::prelude::*;

/// Props for [`MicMeter`].
#[derive(Properties, PartialEq)]
pub struct MicMeterProps {
    /// The stream whose microphone to measure.
    pub stream: Option<MediaStream>,
    /// Accessible name.
    pub label: AttrValue,
}

/// A live level bar for the microphone (Web Audio analyser, ~12 updates a
/// second), so people can see they are heard before they join.
#[function_component(MicMeter)]
pub fn mic_meter(props: &MicMeterProps) -> Html {
    let level = use_state(|| 0u32);
    {
        let level = level.clone();
        use_effect_with(props.stream.clone(), move |stream| {
            let running = stream
                .as_ref()
                .filter(|s| s.get_audio_tracks().length() > 0)
                .and_then(|stream| start(stream, level));
            move || {
                if let Some((context, interval)) = running {
                    drop(interval);
                    let _ = context.close();
                }
            }
        });
    }
    html! {
        <div class="mic-meter" role="meter" aria-label={props.label.clone()} aria-valuemin="0"
            aria-valuemax="100" aria-valuenow={level.to_string()} data-level={level.to_string()}>
            <div class="mic-meter-fill" style={format!("width: {}%", *level)} />
        </div>
    }
}

fn start(stream: &MediaStream, level: UseStateHandle<u32>) -> Option<(AudioContext, Interval)> {
    let context = AudioContext::new().ok()?;
    let source = context.create_media_stream_source(stream).ok()?;
    let analyser: AnalyserNode = context.create_analyser().ok()?;
    analyser.set_fft_size(1024);
    source.connect_with_audio_node(&analyser).ok()?;
    let mut samples = vec![0f32; analyser.fft_size() as usize];
    let interval = Interval::new(80, move || {
        analyser.get_float_time_domain_data(&mut samples);
        let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
        // Speech sits around -30..-10 dBFS; map -60..0 dB onto 0..100.
        let db = 20.0 * rms.max(1e-6).log10();
        level.set(((db + 60.0) / 60.0 * 100.0).clamp(0.0, 100.0) as u32);
    });
    Some((context, interval))
}
