//! The camera and microphone passed from one screen to the next.
//!
//! The home screen, the lobby and Settings show a live preview; the call
//! that starts from them needs the very same devices. Closing them on one
//! screen and opening them again on the next costs the call its start (a
//! real camera takes 0.3–1 s to open, and its light blinks). So a preview
//! that goes away *hands over* what it had; the next screen (a call, or
//! another preview) takes it if it wants the same devices, and whatever
//! nobody took within [`HANDOFF_MS`] is stopped — nothing stays live that
//! nobody shows.

use std::cell::RefCell;
use std::rc::Rc;

use gloo::timers::callback::Timeout;
use web_sys::MediaStreamTrack;

use super::js;
use super::media::{LocalMedia, MediaPreferences};

/// How long handed-over devices wait for the next screen.
pub const HANDOFF_MS: u32 = 300;

struct Parked {
    media: LocalMedia,
    preferences: MediaPreferences,
    _expiry: Timeout,
}

/// At most one set of devices between two screens.
#[derive(Clone, Default)]
pub struct Handoff(Rc<RefCell<Option<Parked>>>);

impl Handoff {
    /// Parks `media`, opened with `preferences`, for the next screen; stops
    /// whatever was parked before.
    pub fn hand_over(&self, media: LocalMedia, preferences: MediaPreferences) {
        let slot = Rc::downgrade(&self.0);
        let expiry = Timeout::new(HANDOFF_MS, move || {
            if let Some(slot) = slot.upgrade() {
                if let Some(parked) = slot.borrow_mut().take() {
                    parked.media.stop();
                }
            }
        });
        let previous = self.0.borrow_mut().replace(Parked {
            media,
            preferences,
            _expiry: expiry,
        });
        if let Some(previous) = previous {
            previous.media.stop();
        }
    }

    /// The parked devices, if they are what `wanted` asks for and all still
    /// live; kinds `wanted` doesn't want are stopped. Anything else parked
    /// is stopped, so the caller can open its own devices at once.
    pub fn take(&self, wanted: &MediaPreferences) -> Option<LocalMedia> {
        let parked = self.0.borrow_mut().take()?;
        let media = parked.media;
        let have = &parked.preferences;
        let fits = same_devices(have, wanted)
            && (!wanted.want_microphone || (have.want_microphone && media.mic_error.is_none()))
            && (!wanted.want_camera || (have.want_camera && media.camera_error.is_none()));
        let tracks = js::items::<MediaStreamTrack>(&media.stream.get_tracks());
        let live = tracks
            .iter()
            .all(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live);
        if !fits || !live {
            media.stop();
            return None;
        }
        for track in tracks {
            let unwanted = match track.kind().as_str() {
                "audio" => !wanted.want_microphone,
                _ => !wanted.want_camera,
            };
            if unwanted {
                track.stop();
                media.stream.remove_track(&track);
            }
        }
        Some(media)
    }
}

/// Whether two sets of preferences open the same devices the same way.
fn same_devices(a: &MediaPreferences, b: &MediaPreferences) -> bool {
    a.microphone == b.microphone
        && a.camera == b.camera
        && a.size == b.size
        && a.frame_rate == b.frame_rate
        && a.audio == b.audio
}
