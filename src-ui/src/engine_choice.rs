//! Which call engine runs here, decided once at start from what the page
//! can do and what the shell says about its native engine.
//!
//! 1. The webview's (or tab's) own WebRTC, where it has one (Windows,
//!    macOS, any browser, a future WebKitGTK).
//! 2. In the desktop app without it (WebKitGTK today), the shell's native
//!    engine when it is ready (GStreamer and every element it needs).
//! 3. Otherwise calls open in the system browser (the old fallback).
//!
//! Pure: the platform layer asks, this decides, and Settings → About says
//! which and why.

use peercall_signal::shell::native::NativeSupport;

/// Where calls run, and why (for Settings → About).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// This window's or tab's own WebRTC.
    WebView,
    /// The desktop shell's GStreamer engine, drawing into this window.
    Native {
        /// GStreamer's version, e.g. `1.22.0`.
        gstreamer: String,
    },
    /// Calls open in the system browser: the webview has no WebRTC and the
    /// native engine can't run (`why`: what the shell said, `None` when it
    /// could not be asked).
    Browser {
        /// Why the native engine can't run.
        why: Option<NativeSupport>,
    },
}

impl EngineChoice {
    /// Decides from the page's own WebRTC (`webrtc`: `RTCPeerConnection`
    /// and `getUserMedia` both exist), whether this is the desktop app, and
    /// the shell's answer about its native engine (asked only in the desktop
    /// app without WebRTC; `None` when not asked or the question failed).
    pub fn decide(desktop: bool, webrtc: bool, native: Option<NativeSupport>) -> Self {
        if webrtc || !desktop {
            // A tab without WebRTC can't call at all; it says so in the call.
            return Self::WebView;
        }
        match native {
            Some(NativeSupport::Ready { gstreamer }) => Self::Native { gstreamer },
            why => Self::Browser { why },
        }
    }

    /// Whether calls run in this window (either engine).
    pub fn in_window(&self) -> bool {
        !matches!(self, Self::Browser { .. })
    }

    /// Whether this is the native engine.
    pub fn is_native(&self) -> bool {
        matches!(self, Self::Native { .. })
    }

    /// Stable name for `data-engine`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::WebView => "webview",
            Self::Native { .. } => "native",
            Self::Browser { .. } => "browser",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> NativeSupport {
        NativeSupport::Ready {
            gstreamer: "1.22.0".into(),
        }
    }

    #[test]
    fn own_webrtc_wins_everywhere() {
        assert_eq!(
            EngineChoice::decide(true, true, Some(ready())),
            EngineChoice::WebView
        );
        assert_eq!(
            EngineChoice::decide(false, true, None),
            EngineChoice::WebView
        );
        // A tab never uses the shell, even without WebRTC.
        assert_eq!(
            EngineChoice::decide(false, false, Some(ready())),
            EngineChoice::WebView
        );
    }

    #[test]
    fn desktop_without_webrtc_uses_a_ready_native_engine() {
        let choice = EngineChoice::decide(true, false, Some(ready()));
        assert_eq!(
            choice,
            EngineChoice::Native {
                gstreamer: "1.22.0".into()
            }
        );
        assert!(choice.in_window() && choice.is_native());
    }

    #[test]
    fn otherwise_the_browser_with_the_reason() {
        let missing = NativeSupport::MissingElements {
            missing: vec!["webrtcbin (gstreamer1.0-plugins-bad)".into()],
        };
        for why in [
            Some(missing),
            Some(NativeSupport::Unavailable {
                reason: "no GStreamer".into(),
            }),
            Some(NativeSupport::NotBuilt),
            None,
        ] {
            let choice = EngineChoice::decide(true, false, why.clone());
            assert_eq!(choice, EngineChoice::Browser { why });
            assert!(!choice.in_window());
            assert_eq!(choice.as_str(), "browser");
        }
    }
}
