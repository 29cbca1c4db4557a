//! The sender's side: hashing the file and sending it, both in slices, so
//! the file is never in memory whole; sending waits on the channel's
//! `bufferedAmount`, and on the receiver's acknowledgements (what it has
//! stored), so a receiver whose disk is slower than the network never
//! queues much.

use std::cell::Cell;

use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, RtcDataChannel, RtcDataChannelState};

use super::{hex, CHUNK, HIGH_WATER, LOW_WATER, SLICE, WINDOW};

/// Why sending stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Someone cancelled.
    Cancelled,
    /// The file could not be read.
    Unreadable,
    /// The channel closed or refused data.
    Channel,
}

/// Bytes `start..end` of the file.
async fn read(file: &File, start: u64, end: u64) -> Result<js_sys::ArrayBuffer, SendError> {
    let blob = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|_| SendError::Unreadable)?;
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|_| SendError::Unreadable)?;
    buffer.dyn_into().map_err(|_| SendError::Unreadable)
}

/// SHA-256 of the file, read in slices; `on_progress` gets the bytes hashed.
pub async fn hash(
    file: &File,
    cancelled: &Cell<bool>,
    on_progress: impl Fn(u64),
) -> Result<String, SendError> {
    let size = file.size() as u64;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    while done < size {
        if cancelled.get() {
            return Err(SendError::Cancelled);
        }
        let end = (done + u64::from(SLICE) * 4).min(size);
        let buffer = read(file, done, end).await?;
        hasher.update(js_sys::Uint8Array::new(&buffer).to_vec());
        done = end;
        on_progress(done);
    }
    Ok(hex(&hasher.finalize()))
}

/// Resolves when the channel's buffer drained below [`LOW_WATER`], or after
/// a quarter second (so a closed channel or a cancel is noticed).
async fn drained(channel: &RtcDataChannel) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        channel.set_onbufferedamountlow(Some(&resolve));
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 250);
        }
    });
    let _ = JsFuture::from(promise).await;
    channel.set_onbufferedamountlow(None);
}

/// Sends the whole file on `channel` (open), reading it a slice at a time;
/// `on_progress` gets the bytes handed to the channel. Returns once every
/// byte has left the buffer.
pub async fn send(
    file: &File,
    channel: &RtcDataChannel,
    cancelled: &Cell<bool>,
    acked: &Cell<u64>,
    on_progress: impl Fn(u64),
) -> Result<(), SendError> {
    channel.set_buffered_amount_low_threshold(LOW_WATER);
    let size = file.size() as u64;
    let open = || channel.ready_state() == RtcDataChannelState::Open;
    let mut sent = 0u64;
    while sent < size {
        let end = (sent + u64::from(SLICE)).min(size);
        let buffer = read(file, sent, end).await?;
        let length = (end - sent) as u32;
        let mut offset = 0u32;
        while offset < length {
            // The receiver says how much it has stored: never more than
            // [`WINDOW`] ahead of that, however slow its disk.
            while sent.saturating_sub(acked.get()) > WINDOW {
                if cancelled.get() {
                    return Err(SendError::Cancelled);
                }
                if !open() {
                    return Err(SendError::Channel);
                }
                gloo::timers::future::TimeoutFuture::new(20).await;
            }
            while channel.buffered_amount() > HIGH_WATER {
                if cancelled.get() {
                    return Err(SendError::Cancelled);
                }
                if !open() {
                    return Err(SendError::Channel);
                }
                drained(channel).await;
            }
            if cancelled.get() {
                return Err(SendError::Cancelled);
            }
            let piece = CHUNK.min(length - offset);
            let view = js_sys::Uint8Array::new_with_byte_offset_and_length(&buffer, offset, piece);
            channel
                .send_with_array_buffer_view(&view)
                .map_err(|_| SendError::Channel)?;
            offset += piece;
            sent += u64::from(piece);
        }
        on_progress(sent);
    }
    while channel.buffered_amount() > 0 {
        if cancelled.get() {
            return Err(SendError::Cancelled);
        }
        if !open() {
            return Err(SendError::Channel);
        }
        channel.set_buffered_amount_low_threshold(0);
        drained(channel).await;
    }
    Ok(())
}
