//! The signaling client: one WebSocket to the server, typed messages both
//! ways, and reconnection with exponential backoff (plus jitter, so a room
//! full of clients doesn't stampede a restarted server) after any drop.
//!
//! A drop never touches calls: peer connections carry media directly between
//! browsers, so this module only reports [`SignalEvent::Down`] and keeps
//! retrying; the session decides what a new welcome means (see
//! `session/mod.rs`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use peercall_signal::protocol::{
    ClientMessage, IceServer, PeerId, ServerMessage, PROTOCOL_VERSION,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// First retry delay; doubles per failed attempt up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: f64 = 300.0;
/// Longest wait between attempts, so a restarted server is found within
/// a second (a small connection attempt a little more than once a second
/// per client is nothing for a server to turn away).
const MAX_BACKOFF_MS: f64 = 800.0;
/// A socket that opened but sent no welcome within this long is retried.
const WELCOME_TIMEOUT_MS: u32 = 8_000;

/// What the connection reports.
#[derive(Clone, Debug)]
pub enum SignalEvent {
    /// Connected and welcomed: our id for this connection (a new one after
    /// every reconnect) and the server's ICE servers.
    Welcome {
        /// Our peer id.
        id: PeerId,
        /// ICE servers from the server.
        ice_servers: Vec<IceServer>,
    },
    /// Any other server message.
    Message(ServerMessage),
    /// The connection is down (dropped, refused or never welcomed); the next
    /// attempt is in `retry_in_ms`.
    Down {
        /// How many attempts failed in a row.
        attempt: u32,
        /// Milliseconds until the next attempt.
        retry_in_ms: u32,
    },
}

struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    welcomed: Rc<Cell<bool>>,
    _welcome_timeout: Timeout,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

struct Inner {
    url: String,
    socket: RefCell<Option<Socket>>,
    failures: Cell<u32>,
    retry: RefCell<Option<Timeout>>,
    on_event: Rc<dyn Fn(SignalEvent)>,
    /// The computer's network came back: retry now, not at the next backoff.
    on_online: RefCell<Option<EventListener>>,
}

/// The client. Dropping it closes the socket and stops retrying.
pub struct Signaling(Rc<Inner>);

impl Signaling {
    /// Connects to `url`, reporting everything to `on_event`.
    pub fn connect(url: String, on_event: impl Fn(SignalEvent) + 'static) -> Self {
        let inner = Rc::new(Inner {
            url,
            socket: RefCell::new(None),
            failures: Cell::new(0),
            retry: RefCell::new(None),
            on_event: Rc::new(on_event),
            on_online: RefCell::new(None),
        });
        let weak = Rc::downgrade(&inner);
        *inner.on_online.borrow_mut() = Some(EventListener::new(
            &gloo::utils::window(),
            "online",
            move |_| {
                if let Some(inner) = weak.upgrade() {
                    if inner.retry.borrow().is_some() {
                        inner.failures.set(0);
                        open(&inner);
                    }
                }
            },
        ));
        open(&inner);
        Self(inner)
    }

    /// Sends `message` if the socket is open and welcomed; returns whether it
    /// went out. Nothing is queued: negotiation messages for a dead socket
    /// would reach nobody (ids change on reconnect), so callers redo what
    /// matters on the next welcome.
    pub fn send(&self, message: &ClientMessage) -> bool {
        let socket = self.0.socket.borrow();
        let Some(socket) = socket.as_ref() else {
            return false;
        };
        if !socket.welcomed.get() || socket.ws.ready_state() != WebSocket::OPEN {
            return false;
        }
        socket.ws.send_with_str(&message.to_json()).is_ok()
    }

    /// Whether messages can be sent now.
    pub fn is_up(&self) -> bool {
        self.0
            .socket
            .borrow()
            .as_ref()
            .is_some_and(|s| s.welcomed.get() && s.ws.ready_state() == WebSocket::OPEN)
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.0.retry.borrow_mut().take();
        self.0.on_online.borrow_mut().take();
        self.0.socket.borrow_mut().take();
    }
}

fn open(inner: &Rc<Inner>) {
    inner.retry.borrow_mut().take();
    let ws = match WebSocket::new(&inner.url) {
        Ok(ws) => ws,
        Err(error) => {
            gloo::console::error!(format!("signaling: bad URL {}: {error:?}", inner.url));
            schedule_retry(inner);
            return;
        }
    };
    let welcomed = Rc::new(Cell::new(false));
    let weak = Rc::downgrade(inner);
    let on_message = {
        let weak = weak.clone();
        let welcomed = welcomed.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            let Some(text) = event.data().as_string() else {
                return;
            };
            let message = match ServerMessage::from_json(&text) {
                Ok(message) => message,
                Err(error) => {
                    gloo::console::warn!(format!(
                        "signaling: unreadable message ({error}): {text}"
                    ));
                    return;
                }
            };
            let event = match message {
                ServerMessage::Join {
                    id,
                    version,
                    ice_servers,
                } => {
                    if version != PROTOCOL_VERSION {
                        gloo::console::warn!(format!(
                            "signaling: server speaks protocol {version}, this UI {PROTOCOL_VERSION}"
                        ));
                    }
                    welcomed.set(true);
                    inner.failures.set(0);
                    if let Some(socket) = inner.socket.borrow().as_ref() {
                        let hello = ClientMessage::Hello {
                            version: PROTOCOL_VERSION,
                        };
                        let _ = socket.ws.send_with_str(&hello.to_json());
                    }
                    SignalEvent::Welcome { id, ice_servers }
                }
                other => SignalEvent::Message(other),
            };
            (inner.on_event)(event);
        })
    };
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
        if let Some(inner) = weak.upgrade() {
            retire(inner.socket.borrow_mut().take());
            schedule_retry(&inner);
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    let welcome_timeout = {
        let weak = Rc::downgrade(inner);
        let welcomed = welcomed.clone();
        Timeout::new(WELCOME_TIMEOUT_MS, move || {
            if welcomed.get() {
                return;
            }
            if let Some(inner) = weak.upgrade() {
                gloo::console::warn!("signaling: no welcome, retrying");
                retire(inner.socket.borrow_mut().take());
                schedule_retry(&inner);
            }
        })
    };
    *inner.socket.borrow_mut() = Some(Socket {
        ws,
        _on_message: on_message,
        _on_close: on_close,
        welcomed,
        _welcome_timeout: welcome_timeout,
    });
}

/// Drops a socket after the current callback returns: its closures may be
/// the ones running now, and a closure must outlive its own call.
fn retire(socket: Option<Socket>) {
    if let Some(socket) = socket {
        socket.ws.set_onmessage(None);
        socket.ws.set_onclose(None);
        wasm_bindgen_futures::spawn_local(async move { drop(socket) });
    }
}

fn schedule_retry(inner: &Rc<Inner>) {
    let failures = inner.failures.get() + 1;
    inner.failures.set(failures);
    let exponential = FIRST_BACKOFF_MS * 2f64.powi(failures.min(16) as i32 - 1);
    let jitter = 0.8 + 0.4 * js_sys::Math::random();
    let delay = (exponential.min(MAX_BACKOFF_MS) * jitter) as u32;
    let weak = Rc::downgrade(inner);
    *inner.retry.borrow_mut() = Some(Timeout::new(delay, move || {
        if let Some(inner) = weak.upgrade() {
            open(&inner);
        }
    }));
    (inner.on_event)(SignalEvent::Down {
        attempt: failures,
        retry_in_ms: delay,
    });
}
