//! The call page's state: what the engine reported, folded into one value
//! the components render, plus the page's own bits (chat panel, notices).

use std::rc::Rc;

use yew::Reducible;

use crate::call::{CallEvent, CallPhase, ChatLine, ConnState, LocalView, PeerView};

/// Most chat lines kept on screen.
const MAX_CHAT_LINES: usize = 500;
/// Most transfers listed (finished ones go first).
const MAX_TRANSFERS: usize = 20;
/// Most "… left" notices on screen at once (each goes by itself).
const MAX_TOASTS: usize = 4;

/// A short notice over the stage ("Alice left"), gone after a few seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    /// Order of arrival (its key).
    pub seq: u64,
    /// The name of the person who left (empty when never known).
    pub left: String,
}

/// Everything the call page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct CallState {
    /// Where the call is.
    pub phase: CallPhase,
    /// Our camera and microphone.
    pub local: LocalView,
    /// Everyone else, in the order they appeared.
    pub peers: Vec<PeerView>,
    /// The chat so far.
    pub chat: Vec<ChatLine>,
    /// The chat panel is open.
    pub chat_open: bool,
    /// Lines that arrived while the panel was closed.
    pub unread: u32,
    /// The device notice was dismissed.
    pub notice_dismissed: bool,
    /// Who just left.
    pub toasts: Vec<Toast>,
    /// A direct call's other person, by the name they gave.
    pub partner_name: Option<String>,
    /// The screen we share, while we share one.
    pub screen: Option<web_sys::MediaStream>,
    /// Sharing the screen just failed (the page says so until dismissed).
    pub screen_failed: bool,
    /// File transfers, newest last.
    pub transfers: Vec<crate::call::transfer::TransferView>,
    /// Whose connection details (safety code, quality) are open, by key.
    pub details: Option<u32>,
    /// The safety code first seen for each participant, and whether it
    /// changed since (`safety_code` of their view is the current one).
    pub safety: Vec<SafetySeen>,
    /// The next toast's `seq`.
    next_toast: u64,
}

impl Default for CallState {
    fn default() -> Self {
        Self {
            phase: CallPhase::Preparing,
            local: LocalView {
                opening: true,
                ..LocalView::default()
            },
            peers: Vec::new(),
            chat: Vec::new(),
            chat_open: false,
            unread: 0,
            notice_dismissed: false,
            toasts: Vec::new(),
            partner_name: None,
            screen: None,
            screen_failed: false,
            transfers: Vec::new(),
            details: None,
            safety: Vec::new(),
            next_toast: 0,
        }
    }
}

impl CallState {
    /// Whether anyone is connected (chat needs someone to talk to).
    pub fn anyone_connected(&self) -> bool {
        self.peers.iter().any(|p| p.state == ConnState::Connected)
    }
}

/// Everything that changes [`CallState`].
#[derive(Clone, Debug)]
pub enum CallAction {
    /// The engine reported something.
    Engine(CallEvent),
    /// Open or close the chat panel.
    ToggleChat,
    /// Close the chat panel.
    CloseChat,
    /// Hide the device notice.
    DismissNotice,
    /// A toast has been shown long enough.
    DismissToast(u64),
    /// A fresh start (rejoining).
    Reset,
    /// Open a participant's connection details (closes the chat).
    OpenDetails(u32),
    /// Close the connection details.
    CloseDetails,
    /// Take a finished transfer off the screen.
    DismissTransfer(u64),
}

/// A participant's safety code as the page has seen it.
#[derive(Clone, Debug, PartialEq)]
pub struct SafetySeen {
    /// Their key.
    pub key: u32,
    /// The latest code.
    pub code: String,
    /// It changed during the call (the connection was set up again with
    /// other certificates): the page says so.
    pub changed: bool,
}

impl CallState {
    /// How `key`'s safety code stands, if it is known.
    pub fn safety_of(&self, key: u32) -> Option<&SafetySeen> {
        self.safety.iter().find(|s| s.key == key)
    }

    /// Notes a participant's (possibly new) safety code.
    fn see_safety(&mut self, key: u32, code: &Option<String>) {
        let Some(code) = code else { return };
        match self.safety.iter_mut().find(|s| s.key == key) {
            Some(seen) if seen.code != *code => {
                seen.code = code.clone();
                seen.changed = true;
            }
            Some(_) => {}
            None => self.safety.push(SafetySeen {
                key,
                code: code.clone(),
                changed: false,
            }),
        }
    }
}

impl Reducible for CallState {
    type Action = CallAction;

    fn reduce(self: Rc<Self>, action: CallAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            CallAction::Engine(event) => match event {
                CallEvent::Phase(phase) => {
                    if matches!(phase, CallPhase::Ended(_)) {
                        next.peers.clear();
                    }
                    next.phase = phase;
                }
                CallEvent::Local(local) => {
                    if local.camera_error != next.local.camera_error
                        || local.mic_error != next.local.mic_error
                    {
                        next.notice_dismissed = false;
                    }
                    next.local = local;
                }
                CallEvent::Peer(view) => {
                    if matches!(next.phase, CallPhase::Ended(_)) {
                        return self;
                    }
                    next.see_safety(view.key, &view.safety_code);
                    match next.peers.iter_mut().find(|p| p.key == view.key) {
                        Some(existing) => *existing = view,
                        None => next.peers.push(view),
                    }
                }
                CallEvent::PeerGone { key, left } => {
                    let gone = next.peers.iter().position(|p| p.key == key);
                    next.safety.retain(|s| s.key != key);
                    if next.details == Some(key) {
                        next.details = None;
                    }
                    if let Some(gone) = gone.map(|i| next.peers.remove(i)) {
                        if left && !matches!(next.phase, CallPhase::Ended(_)) {
                            next.next_toast += 1;
                            next.toasts.push(Toast {
                                seq: next.next_toast,
                                left: gone.name,
                            });
                            if next.toasts.len() > MAX_TOASTS {
                                next.toasts.remove(0);
                            }
                        }
                    }
                }
                CallEvent::PartnerName(name) => next.partner_name = Some(name),
                CallEvent::LocalScreen(screen) => {
                    next.screen_failed = false;
                    next.screen = screen;
                }
                CallEvent::ScreenFailed => next.screen_failed = true,
                CallEvent::Transfer(view) => {
                    match next.transfers.iter_mut().find(|t| t.id == view.id) {
                        Some(existing) => *existing = view,
                        None => next.transfers.push(view),
                    }
                    if next.transfers.len() > MAX_TRANSFERS {
                        if let Some(old) = next.transfers.iter().position(|t| t.state.finished()) {
                            next.transfers.remove(old);
                        }
                    }
                }
                CallEvent::Chat(line) => {
                    if !next.chat_open && line.from.is_some() {
                        next.unread += 1;
                    }
                    next.chat.push(line);
                    if next.chat.len() > MAX_CHAT_LINES {
                        next.chat.remove(0);
                    }
                }
            },
            CallAction::OpenDetails(key) => {
                next.details = Some(key);
                next.chat_open = false;
            }
            CallAction::CloseDetails => next.details = None,
            CallAction::DismissTransfer(id) => next.transfers.retain(|t| t.id != id),
            CallAction::ToggleChat => {
                next.details = None;
                next.chat_open = !next.chat_open;
                if next.chat_open {
                    next.unread = 0;
                }
            }
            CallAction::CloseChat => next.chat_open = false,
            CallAction::DismissNotice => {
                next.notice_dismissed = true;
                next.screen_failed = false;
            }
            CallAction::DismissToast(seq) => next.toasts.retain(|t| t.seq != seq),
            CallAction::Reset => return Rc::new(Self::default()),
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::PeerView;
    use peercall_signal::protocol::PeerId;

    fn view(key: u32, code: Option<&str>) -> CallAction {
        CallAction::Engine(CallEvent::Peer(PeerView {
            key,
            id: PeerId::new("p"),
            name: "Bora".into(),
            state: ConnState::Connected,
            video: None,
            audio_muted: false,
            video_muted: false,
            safety_code: code.map(str::to_owned),
            screen: None,
        }))
    }

    #[test]
    fn a_new_safety_code_for_the_same_person_is_flagged() {
        let state = Rc::new(CallState::default());
        let state = state.reduce(view(1, None)).reduce(view(1, Some("123 456")));
        assert_eq!(state.safety_of(1).map(|s| s.changed), Some(false));
        // The same code again (any re-render of their tile) changes nothing.
        let state = state.reduce(view(1, Some("123 456")));
        assert_eq!(state.safety_of(1).map(|s| s.changed), Some(false));
        // The connection was set up again with other certificates.
        let state = state.reduce(view(1, Some("654 321")));
        let seen = state.safety_of(1).unwrap();
        assert!(seen.changed && seen.code == "654 321");
        // Someone else's first code is not a change; leaving forgets it.
        let state = state.reduce(view(2, Some("111 222")));
        assert_eq!(state.safety_of(2).map(|s| s.changed), Some(false));
        let state = state.reduce(CallAction::Engine(CallEvent::PeerGone {
            key: 1,
            left: true,
        }));
        assert!(state.safety_of(1).is_none());
    }
}
