//! Video from the shell: one WebSocket per page to the loopback
//! [`FramesEndpoint`](peercall_signal::shell::native::FramesEndpoint),
//! whose binary messages are a [`FrameHeader`] and a picture, demultiplexed
//! by [`StreamId`] onto the canvases showing each stream.
//!
//! Each canvas draws the newest frame only: while one picture is being
//! decoded (`createImageBitmap`, off the main thread), newer ones replace
//! the one waiting ([`Mailbox`]), so a slow page skips frames instead of
//! falling behind. Every canvas counts what it drew in `data-frames`, so a
//! test can see moving video from outside.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use peercall_signal::shell::native::{FrameFormat, FrameHeader, StreamId};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    BinaryType, Blob, BlobPropertyBag, CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap,
    ImageData, MessageEvent, WebSocket,
};

/// How long to wait before opening the socket again after it closed.
const RECONNECT_MS: u32 = 500;

/// The newest thing waiting while a slower consumer works: offering a new
/// one replaces (drops) the one waiting.
#[derive(Debug)]
pub struct Mailbox<T> {
    busy: bool,
    waiting: Option<T>,
    dropped: u64,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self {
            busy: false,
            waiting: None,
            dropped: 0,
        }
    }
}

impl<T> Mailbox<T> {
    /// Offers `item`: returns it back when the consumer is idle (it is now
    /// busy with it), else keeps it as the newest waiting one.
    pub fn offer(&mut self, item: T) -> Option<T> {
        if self.busy {
            if self.waiting.replace(item).is_some() {
                self.dropped += 1;
            }
            None
        } else {
            self.busy = true;
            Some(item)
        }
    }

    /// The consumer finished: the next item to work on, if one waits.
    pub fn done(&mut self) -> Option<T> {
        let next = self.waiting.take();
        self.busy = next.is_some();
        next
    }

    /// How many items were replaced before they were taken.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// One frame, as it arrived: its header, and its picture where the socket
/// put it (a view of the message's `ArrayBuffer`). A picture never enters
/// the wasm heap, which cannot give memory back: it used to be copied in
/// and out of it four times a frame (25 frames a second a stream, 20–100
/// KB each). The page's wasm memory now stays at its start-up size
/// (1.31 MiB) through a run of calls (`benches/call_memory.rs` prints it).
#[derive(Debug, Clone)]
pub struct Frame {
    header: FrameHeader,
    picture: js_sys::Uint8Array,
}

/// A frame message's header, from its first bytes (`head`) and its whole
/// length; `None` if it is not a frame.
fn read_header(head: &[u8], len: usize) -> Option<FrameHeader> {
    let (header, _) = FrameHeader::decode(head).ok()?;
    let picture = len.checked_sub(FrameHeader::LEN)?;
    let rgba = usize::from(header.width) * usize::from(header.height) * 4;
    if header.format == FrameFormat::Rgba && picture != rgba {
        return None;
    }
    Some(header)
}

impl Frame {
    /// Reads a frames-socket message (`None`: not a frame).
    pub fn parse(message: &js_sys::ArrayBuffer) -> Option<Self> {
        let len = message.byte_length() as usize;
        let header_len = FrameHeader::LEN as u32;
        if len < FrameHeader::LEN {
            return None;
        }
        let mut head = [0u8; FrameHeader::LEN];
        js_sys::Uint8Array::new_with_byte_offset_and_length(message, 0, header_len)
            .copy_to(&mut head);
        let header = read_header(&head, len)?;
        let picture = js_sys::Uint8Array::new_with_byte_offset_and_length(
            message,
            header_len,
            len as u32 - header_len,
        );
        Some(Self { header, picture })
    }

    /// Whose video it is.
    pub fn stream(&self) -> StreamId {
        self.header.stream
    }
}

/// One canvas showing one stream.
struct Sink {
    canvas: HtmlCanvasElement,
    mailbox: RefCell<Mailbox<Frame>>,
    drawn: Cell<u64>,
    /// No longer shown: a draw still decoding leaves the canvas alone.
    closed: Cell<bool>,
}

struct Inner {
    url: String,
    socket: RefCell<Option<WebSocket>>,
    handlers: RefCell<Vec<Box<dyn std::any::Any>>>,
    sinks: RefCell<HashMap<StreamId, Vec<Weak<Sink>>>>,
    retry: RefCell<Option<Timeout>>,
}

/// The page's frames connection (cheap to clone; equal when the same).
#[derive(Clone)]
pub struct Frames(Rc<Inner>);

impl PartialEq for Frames {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Frames")
    }
}

/// A canvas showing a stream until this is dropped.
pub struct Showing {
    frames: Weak<Inner>,
    stream: StreamId,
    sink: Rc<Sink>,
}

impl Drop for Showing {
    fn drop(&mut self) {
        self.sink.closed.set(true);
        if let Some(inner) = self.frames.upgrade() {
            let mut sinks = inner.sinks.borrow_mut();
            if let Some(list) = sinks.get_mut(&self.stream) {
                list.retain(|s| s.upgrade().is_some_and(|s| !Rc::ptr_eq(&s, &self.sink)));
                if list.is_empty() {
                    sinks.remove(&self.stream);
                }
            }
        }
    }
}

impl Frames {
    /// Connects to `url` (the shell's frames endpoint, secret included),
    /// and again whenever the connection drops, while it lives.
    pub fn connect(url: String) -> Self {
        let frames = Self(Rc::new(Inner {
            url,
            socket: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            sinks: RefCell::new(HashMap::new()),
            retry: RefCell::new(None),
        }));
        open(&frames.0);
        frames
    }

    /// Draws `stream` on `canvas` while the returned value lives.
    pub fn show(&self, stream: StreamId, canvas: HtmlCanvasElement) -> Showing {
        let sink = Rc::new(Sink {
            canvas,
            mailbox: RefCell::new(Mailbox::default()),
            drawn: Cell::new(0),
            closed: Cell::new(false),
        });
        self.0
            .sinks
            .borrow_mut()
            .entry(stream)
            .or_default()
            .push(Rc::downgrade(&sink));
        Showing {
            frames: Rc::downgrade(&self.0),
            stream,
            sink,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.borrow_mut().take() {
            socket.set_onmessage(None);
            socket.set_onclose(None);
            let _ = socket.close();
        }
    }
}

fn open(inner: &Rc<Inner>) {
    let socket = match WebSocket::new(&inner.url) {
        Ok(socket) => socket,
        Err(error) => {
            gloo::console::warn!(format!("frames socket: {error:?}"));
            retry(inner);
            return;
        }
    };
    socket.set_binary_type(BinaryType::Arraybuffer);
    let weak = Rc::downgrade(inner);
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(inner) = weak.upgrade() else { return };
        let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        if let Some(frame) = Frame::parse(&buffer) {
            deliver(&inner, frame);
        }
    });
    let weak = Rc::downgrade(inner);
    let on_close = Closure::<dyn Fn()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            retry(&inner);
        }
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    *inner.handlers.borrow_mut() = vec![Box::new(on_message), Box::new(on_close)];
    *inner.socket.borrow_mut() = Some(socket);
}

fn retry(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    *inner.retry.borrow_mut() = Some(Timeout::new(RECONNECT_MS, move || {
        if let Some(inner) = weak.upgrade() {
            open(&inner);
        }
    }));
}

/// Hands a frame to every canvas showing its stream.
fn deliver(inner: &Inner, frame: Frame) {
    let sinks: Vec<Rc<Sink>> = inner
        .sinks
        .borrow()
        .get(&frame.stream())
        .map(|list| list.iter().filter_map(Weak::upgrade).collect())
        .unwrap_or_default();
    for sink in sinks {
        let now = sink.mailbox.borrow_mut().offer(frame.clone());
        if let Some(frame) = now {
            draw_loop(sink, frame);
        }
    }
}

/// Draws `frame`, then whatever newest frame waited meanwhile.
fn draw_loop(sink: Rc<Sink>, frame: Frame) {
    wasm_bindgen_futures::spawn_local(async move {
        let mut next = Some(frame);
        while let Some(frame) = next {
            if sink.closed.get() {
                return;
            }
            match draw(&sink, &frame).await {
                Ok(()) => {
                    let drawn = sink.drawn.get() + 1;
                    sink.drawn.set(drawn);
                    let canvas = &sink.canvas;
                    let _ = canvas.set_attribute("data-frames", &drawn.to_string());
                    let dropped = sink.mailbox.borrow().dropped();
                    let _ = canvas.set_attribute("data-dropped", &dropped.to_string());
                }
                Err(error) => gloo::console::warn!(format!("drawing a frame: {error:?}")),
            }
            next = sink.mailbox.borrow_mut().done();
        }
    });
}

async fn draw(sink: &Sink, frame: &Frame) -> Result<(), JsValue> {
    let canvas = &sink.canvas;
    let (width, height) = (
        u32::from(frame.header.width),
        u32::from(frame.header.height),
    );
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .dyn_into()?;
    match frame.header.format {
        FrameFormat::Jpeg => {
            let parts = js_sys::Array::of1(&frame.picture);
            let options = BlobPropertyBag::new();
            options.set_type("image/jpeg");
            let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
            let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
            let bitmap: ImageBitmap = JsFuture::from(window.create_image_bitmap_with_blob(&blob)?)
                .await?
                .dyn_into()?;
            // The tile may have gone (its canvas emptied) while decoding.
            if !sink.closed.get() {
                resize(canvas, bitmap.width(), bitmap.height());
                context.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0)?;
            }
            bitmap.close();
        }
        FrameFormat::Rgba => {
            let pixels = js_sys::Uint8ClampedArray::new_with_byte_offset_and_length(
                &frame.picture.buffer(),
                frame.picture.byte_offset(),
                frame.picture.length(),
            );
            let image = ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width, height)?;
            resize(canvas, width, height);
            context.put_image_data(&image, 0.0, 0.0)?;
        }
    }
    Ok(())
}

fn resize(canvas: &HtmlCanvasElement, width: u32, height: u32) {
    if canvas.width() != width || canvas.height() != height {
        canvas.set_width(width);
        canvas.set_height(height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(stream: u32, format: FrameFormat, picture: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            stream: StreamId(stream),
            width: 2,
            height: 1,
            format,
        };
        let mut bytes = header.encode().to_vec();
        bytes.extend_from_slice(picture);
        bytes
    }

    fn header(message: &[u8]) -> Option<FrameHeader> {
        read_header(
            &message[..message.len().min(FrameHeader::LEN)],
            message.len(),
        )
    }

    #[test]
    fn frames_are_read_by_stream() {
        let jpeg = header(&message(3, FrameFormat::Jpeg, b"\xff\xd8jpeg")).unwrap();
        assert_eq!(jpeg.stream, StreamId(3));
        assert_eq!(jpeg.format, FrameFormat::Jpeg);
        let rgba = header(&message(0, FrameFormat::Rgba, &[0; 8])).unwrap();
        assert_eq!(rgba.stream, StreamId::LOCAL);
    }

    #[test]
    fn bad_frames_are_refused() {
        assert!(header(&[1, 2, 3]).is_none());
        // RGBA whose size doesn't match its header.
        assert!(header(&message(0, FrameFormat::Rgba, &[0; 7])).is_none());
        assert!(header(&message(0, FrameFormat::Rgba, &[0; 9])).is_none());
        let mut unknown = message(0, FrameFormat::Jpeg, b"x");
        unknown[8] = 77;
        assert!(header(&unknown).is_none());
    }

    #[test]
    fn a_busy_canvas_keeps_only_the_newest_frame() {
        let mut mailbox = Mailbox::default();
        assert_eq!(mailbox.offer(1), Some(1), "idle: draw at once");
        assert_eq!(mailbox.offer(2), None);
        assert_eq!(mailbox.offer(3), None);
        assert_eq!(mailbox.offer(4), None);
        assert_eq!(mailbox.dropped(), 2, "2 and 3 were never drawn");
        assert_eq!(mailbox.done(), Some(4));
        assert_eq!(mailbox.done(), None, "idle again");
        assert_eq!(mailbox.offer(5), Some(5));
    }
}
