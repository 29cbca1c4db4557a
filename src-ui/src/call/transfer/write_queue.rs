//! Writes to a file, one at a time, in arrival order: whatever arrived
//! while a write was under way goes in the next write, all of it at once,
//! so writing keeps up however fast the parts come. What the writes store
//! is reported as it grows; after a failed write nothing more is written.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use wasm_bindgen::JsCast;

/// A file that takes parts, appended in order.
pub trait PartsFile: 'static {
    /// Appends the parts (`ArrayBuffer`s, in order) in one write; `false`
    /// when it failed.
    fn write(&self, parts: js_sys::Array) -> impl Future<Output = bool>;
}

/// One write of the queued parts.
type WriteParts = Box<dyn Fn(js_sys::Array) -> Pin<Box<dyn Future<Output = bool>>>>;

/// One file's writes.
pub struct WriteQueue {
    queue: RefCell<VecDeque<js_sys::ArrayBuffer>>,
    writing: Cell<bool>,
    failed: Cell<bool>,
    written: Cell<u64>,
    write_parts: WriteParts,
    on_written: Rc<dyn Fn(u64)>,
}

impl WriteQueue {
    /// Writes to `file`; `on_written` hears the bytes stored.
    pub fn new(file: Rc<impl PartsFile>, on_written: Rc<dyn Fn(u64)>) -> Rc<Self> {
        let write_parts: WriteParts = Box::new(move |parts| {
            let file = file.clone();
            Box::pin(async move { file.write(parts).await })
        });
        Rc::new(Self {
            queue: RefCell::new(VecDeque::new()),
            writing: Cell::new(false),
            failed: Cell::new(false),
            written: Cell::new(0),
            write_parts,
            on_written,
        })
    }

    /// Whether a write failed.
    pub fn failed(&self) -> bool {
        self.failed.get()
    }

    /// Queues `buffer`, writing at once unless a write is under way.
    pub fn push(self: &Rc<Self>, buffer: &js_sys::ArrayBuffer) {
        self.queue.borrow_mut().push_back(Clone::clone(buffer));
        if self.writing.replace(true) {
            return;
        }
        let queue = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let parts: js_sys::Array = queue.queue.borrow_mut().drain(..).collect();
                if parts.length() == 0 {
                    break;
                }
                let bytes: u64 = parts
                    .iter()
                    .map(|p| p.unchecked_into::<js_sys::ArrayBuffer>().byte_length())
                    .map(u64::from)
                    .sum();
                if !(queue.write_parts)(parts).await {
                    queue.failed.set(true);
                    queue.queue.borrow_mut().clear();
                    break;
                }
                queue.written.set(queue.written.get() + bytes);
                (queue.on_written)(queue.written.get());
            }
            queue.writing.set(false);
        });
    }

    /// Waits until every queued part is written; `false` if one failed.
    pub async fn flushed(&self) -> bool {
        while self.writing.get() {
            gloo::timers::future::TimeoutFuture::new(10).await;
        }
        !self.failed.get()
    }

    /// Drops what is queued and not yet being written.
    pub fn clear(&self) {
        self.queue.borrow_mut().clear();
    }
}
