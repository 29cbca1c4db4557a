use gloo::events::EventListener;
use web_sys::{MediaStream, MediaStreamTrack};
use yew::prelude::*;

use crate::call::js;
use crate::call::media::{DeviceError, MediaPreferences};
use crate::call::{Held, PreviewMedia, VideoSource};
use crate::hooks::use_engine;

/// The settings page's live preview.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Preview {
    /// What is being previewed, once open: the browser's stream, or the
    /// native engine's preview frames.
    pub video: Option<VideoSource>,
    /// Why there is no camera, if there is none.
    pub camera_error: Option<DeviceError>,
    /// Why there is no microphone, if there is none.
    pub mic_error: Option<DeviceError>,
    /// Still opening the devices.
    pub opening: bool,
    /// Bumped each time a stream opens (device labels become readable then).
    pub generation: u32,
}

impl Preview {
    /// The browser stream, when the browser opened the devices (the level
    /// meter listens to it; the native engine's sound stays in the shell).
    pub fn stream(&self) -> Option<MediaStream> {
        match &self.video {
            Some(VideoSource::Stream(stream)) => Some(Clone::clone(stream)),
            _ => None,
        }
    }
}

/// How many times a preview whose device stopped on its own is reopened
/// before the page shows what is left.
const MAX_REOPENS: u32 = 3;

/// Opens the chosen camera and microphone while `enabled`, reopening when the
/// choice changes or a device stops on its own (unplugged, or taken back by
/// the engine). On unmount (or a new choice) it hands them to the engine,
/// so the call or preview on the next screen uses them without opening them
/// again; the engine stops them at once if nobody takes them.
#[hook]
pub fn use_preview(enabled: bool, preferences: MediaPreferences) -> UseStateHandle<Preview> {
    let engine = use_engine();
    let preview = use_state(|| Preview {
        opening: enabled,
        ..Preview::default()
    });
    // Bumped when an open track ends without us stopping it; a bounded
    // number of reopens per choice, so a device that keeps failing settles
    // on its error instead of looping.
    let reopen = use_state(|| 0u32);
    let reopens_left = use_mut_ref(|| MAX_REOPENS);
    {
        let reopens_left = reopens_left.clone();
        use_effect_with(preferences.clone(), move |_| {
            *reopens_left.borrow_mut() = MAX_REOPENS;
        });
    }
    // One capture at a time: a new choice waits until the previous stream is
    // open (and then released), because engines share a device between
    // overlapping captures, and stopping the old one could end the new one.
    let busy = use_mut_ref(|| false);
    {
        let preview = preview.clone();
        let reopen = reopen.clone();
        let deps = (enabled, preferences, *reopen);
        use_effect_with(deps, move |(enabled, preferences, _)| {
            let busy = busy.clone();
            let cancelled = std::rc::Rc::new(std::cell::Cell::new(false));
            let opened = std::rc::Rc::new(std::cell::RefCell::new(None::<PreviewMedia>));
            let watchers = std::rc::Rc::new(std::cell::RefCell::new(Vec::<EventListener>::new()));
            let engine = engine.clone();
            let opened_with = preferences.clone();
            if *enabled {
                let preview = preview.clone();
                let preferences = preferences.clone();
                let engine = engine.clone();
                let cancelled = cancelled.clone();
                let opened = opened.clone();
                let watchers = watchers.clone();
                let generation = preview.generation;
                preview.set(Preview {
                    opening: true,
                    generation,
                    ..Preview::default()
                });
                wasm_bindgen_futures::spawn_local(async move {
                    while *busy.borrow() {
                        gloo::timers::future::TimeoutFuture::new(30).await;
                    }
                    if cancelled.get() {
                        return;
                    }
                    *busy.borrow_mut() = true;
                    let local = engine.open_preview(&preferences).await;
                    *busy.borrow_mut() = false;
                    if cancelled.get() {
                        // Nobody shows it: the engine stops it shortly.
                        engine.hand_over(local, preferences);
                        return;
                    }
                    let tracks = match &local.held {
                        Held::Web(media) => {
                            js::items::<MediaStreamTrack>(&media.stream.get_tracks())
                        }
                        Held::Native(_) => Vec::new(),
                    };
                    let shown = Preview {
                        video: local.video.clone(),
                        camera_error: local.camera_error,
                        mic_error: local.mic_error,
                        opening: false,
                        generation: generation + 1,
                    };
                    // A device that stops on its own is opened again (a
                    // bounded number of times): a browser's track ends; the
                    // shell says so when a device it captures fails or is
                    // pulled out.
                    let again = {
                        let cancelled = cancelled.clone();
                        let reopen = reopen.clone();
                        let reopens_left = reopens_left.clone();
                        std::rc::Rc::new(move || {
                            let mut left = reopens_left.borrow_mut();
                            if !cancelled.get() && *left > 0 {
                                *left -= 1;
                                reopen.set(*reopen + 1);
                            }
                        })
                    };
                    if let Held::Native(hold) = &local.held {
                        let again = again.clone();
                        hold.on_local_change(move |_| again());
                    }
                    *opened.borrow_mut() = Some(local);
                    for track in tracks {
                        let again = again.clone();
                        watchers.borrow_mut().push(EventListener::once(
                            &track,
                            "ended",
                            move |_| again(),
                        ));
                    }
                    preview.set(shown);
                });
            } else {
                preview.set(Preview::default());
            }
            move || {
                cancelled.set(true);
                watchers.borrow_mut().clear();
                if let Some(local) = opened.borrow_mut().take() {
                    engine.hand_over(local, opened_with);
                }
            }
        });
    }
    preview
}
