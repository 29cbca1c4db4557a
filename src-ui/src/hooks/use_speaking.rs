use std::cell::RefCell;
use std::rc::Rc;

use gloo::timers::callback::Interval;
use web_sys::{AnalyserNode, AudioContext, MediaStream};
use yew::prelude::*;

use crate::call::Engine;

/// How often levels are read.
const POLL_MS: u32 = 150;
/// A remote level (RTP `audioLevel`, 0..1) above this is someone talking.
const REMOTE_THRESHOLD: f64 = 0.03;
/// Our own level (RMS of the microphone, 0..1) above this is us talking.
const LOCAL_THRESHOLD: f32 = 0.03;
/// A speaker stays marked this long after their last loud moment, so the
/// ring doesn't flicker between words.
const HOLD_MS: f64 = 900.0;

/// Who is talking now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Speaking {
    /// Participants talking now, by key.
    pub keys: Vec<u32>,
    /// We are talking (microphone on).
    pub me: bool,
    /// The last participant who talked (kept when they stop), for the grid
    /// to keep in view.
    pub last: Option<u32>,
}

/// Watches audio levels: the others' from the engine
/// (`getSynchronizationSources`), ours from a Web Audio analyser on the
/// local stream while the microphone is on. Re-renders only on a change.
#[hook]
pub fn use_speaking(engine: Engine, local: Option<MediaStream>, mic_on: bool) -> Speaking {
    let speaking = use_state(Speaking::default);
    let state = use_mut_ref(|| (Speaking::default(), Vec::<(u32, f64)>::new(), 0.0f64));
    {
        let speaking = speaking.clone();
        let local = local.filter(|s| mic_on && s.get_audio_tracks().length() > 0);
        let local_id = local.as_ref().map(MediaStream::id);
        use_effect_with(local_id, move |_| {
            let meter = local.as_ref().and_then(LocalMeter::new);
            let meter = Rc::new(RefCell::new(meter));
            let interval = {
                let meter = meter.clone();
                Interval::new(POLL_MS, move || {
                    let now = js_sys::Date::now();
                    let mut guard = state.borrow_mut();
                    let (current, heard, me_until) = &mut *guard;
                    for (key, level) in engine.audio_levels() {
                        if level > REMOTE_THRESHOLD {
                            heard.retain(|(k, _)| *k != key);
                            heard.push((key, now + HOLD_MS));
                        }
                    }
                    heard.retain(|(_, until)| *until > now);
                    if meter.borrow_mut().as_mut().is_some_and(LocalMeter::loud) {
                        *me_until = now + HOLD_MS;
                    }
                    let mut next = Speaking {
                        keys: heard.iter().map(|(k, _)| *k).collect(),
                        me: *me_until > now,
                        last: current.last,
                    };
                    next.keys.sort_unstable();
                    if let Some((key, _)) = heard.last() {
                        next.last = Some(*key);
                    }
                    if next != *current {
                        *current = next.clone();
                        speaking.set(next);
                    }
                })
            };
            move || {
                drop(interval);
                if let Some(meter) = meter.borrow_mut().take() {
                    let _ = meter.context.close();
                }
            }
        });
    }
    (*speaking).clone()
}

/// Our microphone's level, through an analyser (nothing is played).
struct LocalMeter {
    context: AudioContext,
    analyser: AnalyserNode,
    samples: Vec<f32>,
}

impl LocalMeter {
    fn new(stream: &MediaStream) -> Option<Self> {
        let context = AudioContext::new().ok()?;
        let source = context.create_media_stream_source(stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(512);
        source.connect_with_audio_node(&analyser).ok()?;
        let samples = vec![0f32; analyser.fft_size() as usize];
        Some(Self {
            context,
            analyser,
            samples,
        })
    }

    fn loud(&mut self) -> bool {
        self.analyser.get_float_time_domain_data(&mut self.samples);
        let rms =
            (self.samples.iter().map(|s| s * s).sum::<f32>() / self.samples.len() as f32).sqrt();
        rms > LOCAL_THRESHOLD
    }
}
