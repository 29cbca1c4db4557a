use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gloo::timers::callback::Interval;
use yew::prelude::*;

use crate::call::quality::{Quality, StatsSample};
use crate::call::Engine;

/// How often the open quality panel refreshes.
const PANEL_MS: u32 = 1_000;
/// The tiles' badges are read every this many panel periods.
const BADGE_EVERY: u32 = 3;

/// Call quality per participant key, from the engine's statistics: the
/// participant whose panel is `open` every second, everyone (for the tiles'
/// badges) every three. Rates come from two readings of the same connection.
#[hook]
pub fn use_quality(engine: Engine, keys: Vec<u32>, open: Option<u32>) -> Rc<HashMap<u32, Quality>> {
    let qualities = use_state(|| Rc::new(HashMap::<u32, Quality>::new()));
    let samples = use_mut_ref(HashMap::<u32, StatsSample>::new);
    // The latest result, shared by callbacks that outlive a render.
    let latest = use_mut_ref(|| Rc::new(HashMap::<u32, Quality>::new()));
    {
        let qualities = qualities.clone();
        use_effect_with((keys, open), move |(keys, open)| {
            let (keys, open) = (keys.clone(), *open);
            samples.borrow_mut().retain(|k, _| keys.contains(k));
            let read = {
                let engine = engine.clone();
                let samples = samples.clone();
                let latest = latest.clone();
                move |key: u32| {
                    let samples = samples.clone();
                    let latest = latest.clone();
                    let qualities = qualities.clone();
                    engine.sample_stats(
                        key,
                        Callback::from(move |sample: Option<StatsSample>| {
                            let Some(sample) = sample else { return };
                            let quality = {
                                let mut samples = samples.borrow_mut();
                                let quality = Quality::between(samples.get(&key), &sample);
                                samples.insert(key, sample);
                                quality
                            };
                            let mut map = (**latest.borrow()).clone();
                            map.insert(key, quality);
                            let map = Rc::new(map);
                            *latest.borrow_mut() = map.clone();
                            qualities.set(map);
                        }),
                    );
                }
            };
            let tick = RefCell::new(0u32);
            let poll = move || {
                let n = *tick.borrow();
                *tick.borrow_mut() = n.wrapping_add(1);
                if n.is_multiple_of(BADGE_EVERY) {
                    keys.iter().for_each(|k| read(*k));
                } else if let Some(key) = open.filter(|k| keys.contains(k)) {
                    read(key);
                }
            };
            poll();
            let interval = Interval::new(PANEL_MS, poll);
            move || drop(interval)
        });
    }
    (*qualities).clone()
}
