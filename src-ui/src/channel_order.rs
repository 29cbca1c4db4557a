//! A Tauri channel's messages back in the order the shell sent them: each
//! arrives as `{ message, index }` (the shell's `Channel` numbers them, and
//! large ones take a detour that can overtake small ones), `{ end, index }`
//! marks the last. Pure, so it is tested on the host.

/// Puts a channel's messages back in the order they were sent.
#[derive(Default)]
pub struct ChannelOrder {
    next: u64,
    waiting: std::collections::BTreeMap<u64, serde_json::Value>,
}

impl ChannelOrder {
    /// Takes one envelope; hands on every message now in order.
    pub fn push(
        &mut self,
        envelope: serde_json::Value,
        deliver: &mut impl FnMut(serde_json::Value),
    ) {
        let Some(index) = envelope.get("index").and_then(serde_json::Value::as_u64) else {
            // Not wrapped: deliver as it is.
            deliver(envelope);
            return;
        };
        if envelope.get("end").is_some() {
            return;
        }
        let message = envelope.get("message").cloned().unwrap_or_default();
        if index < self.next || self.waiting.len() >= 10_000 {
            return;
        }
        self.waiting.insert(index, message);
        while let Some(message) = self.waiting.remove(&self.next) {
            self.next += 1;
            deliver(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channel_messages_come_out_in_the_order_sent() {
        let mut order = ChannelOrder::default();
        let mut out = Vec::new();
        let mut deliver = |m: serde_json::Value| out.push(m);
        order.push(json!({"message": "b", "index": 1}), &mut deliver);
        order.push(json!({"message": "c", "index": 2}), &mut deliver);
        order.push(json!({"message": "a", "index": 0}), &mut deliver);
        order.push(json!({"message": "a again", "index": 0}), &mut deliver);
        order.push(json!({"end": true, "index": 3}), &mut deliver);
        order.push(json!({"type": "bare"}), &mut deliver);
        assert_eq!(
            out,
            vec![json!("a"), json!("b"), json!("c"), json!({"type": "bare"})]
        );
    }
}
