//! The relay fast path: an `offer`, `answer` or `candidate` read in one
//! pass without building its payload, and forwarded by splicing.
//!
//! A relay is most of what a busy server handles, and its payload (an SDP of
//! a few KiB) is the only big part of it: parsing that into a
//! `serde_json::Value` (a map, owned strings) and serializing it again to
//! add `from` was most of the server's CPU per message. Here the payload is
//! only checked (by serde_json's raw scan, and for the few things `Value`
//! refuses besides, see [`plainly_valid`]) and then copied byte for byte behind `{"type":…,"from":…,` into
//! the outgoing frame: one allocation, one copy.
//!
//! Anything unusual (an unknown or repeated key, `type` not a relay, `to`
//! not a string, the payload missing, invalid JSON) is not decided here:
//! [`parse`] returns `None` and the message takes the full
//! [`ClientMessage::parse`](crate::protocol::ClientMessage::parse) path,
//! which refuses it with the usual error or accepts it. What the fast path
//! accepts, the full path accepts as the same message (see the tests).

use std::fmt;

use memchr::memchr2;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::hub::Relayed;
use crate::protocol::PeerId;

/// A relay as the client sent it: the payload still JSON text.
#[derive(Debug)]
pub(crate) struct RawRelay<'a> {
    pub(crate) kind: Relayed,
    pub(crate) to: Option<PeerId>,
    pub(crate) payload: &'a RawValue,
}

/// `text` as a relay, or `None` if the full parser must look at it.
pub(crate) fn parse(text: &str) -> Option<RawRelay<'_>> {
    let relay = serde_json::from_str::<Fields<'_>>(text).ok()?.relay()?;
    plainly_valid(relay.payload.get()).then_some(relay)
}

/// The frame a relay is forwarded as: `{"type":KIND,"from":FROM,KIND:PAYLOAD}`,
/// what serializing [`crate::protocol::ServerMessage`] gives (the payload
/// as it was sent).
pub(crate) fn frame(kind: Relayed, from: &PeerId, payload: &RawValue) -> Utf8Bytes {
    let name = kind.name();
    let payload = payload.get();
    let mut out = String::with_capacity(32 + 2 * name.len() + from.as_str().len() + payload.len());
    out.push_str(r#"{"type":""#);
    out.push_str(name);
    out.push_str(r#"","from":"#);
    let plain = from
        .as_str()
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(from.as_str());
        out.push('"');
    } else {
        // Server ids never need escaping; any other string is escaped.
        out.push_str(&serde_json::Value::from(from.as_str()).to_string());
    }
    out.push_str(r#",""#);
    out.push_str(name);
    out.push_str(r#"":"#);
    out.push_str(payload);
    out.push('}');
    Utf8Bytes::from(out)
}

/// The top-level keys of a relay; anything else sends the message to the
/// full parser.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<Relayed>,
    to: Option<Option<PeerId>>,
    offer: Option<&'a RawValue>,
    answer: Option<&'a RawValue>,
    candidate: Option<&'a RawValue>,
}

impl<'a> Fields<'a> {
    fn relay(self) -> Option<RawRelay<'a>> {
        let kind = self.kind?;
        let (payload, others) = match kind {
            Relayed::Offer => (self.offer, [self.answer, self.candidate]),
            Relayed::Answer => (self.answer, [self.offer, self.candidate]),
            Relayed::Candidate => (self.candidate, [self.offer, self.answer]),
        };
        // Another kind's payload key is unknown to this kind: leave such a
        // message to the full parser.
        if others.iter().any(Option::is_some) {
            return None;
        }
        Some(RawRelay {
            kind,
            to: self.to.flatten(),
            payload: payload?,
        })
    }
}

/// Any failure means "not for the fast path".
fn unusual<E: de::Error>() -> E {
    E::custom("not a plain relay")
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
    type Value = Fields<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a relay message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let fresh = match key {
                Key::Type => fields.kind.replace(map.next_value::<Kind>()?.0).is_none(),
                Key::To => fields.to.replace(map.next_value()?).is_none(),
                Key::Offer => fields.offer.replace(map.next_value()?).is_none(),
                Key::Answer => fields.answer.replace(map.next_value()?).is_none(),
                Key::Candidate => fields.candidate.replace(map.next_value()?).is_none(),
            };
            if !fresh {
                return Err(unusual());
            }
        }
        Ok(fields)
    }
}

/// A top-level key the fast path knows.
enum Key {
    Type,
    To,
    Offer,
    Answer,
    Candidate,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "type" => Key::Type,
                    "to" => Key::To,
                    "offer" => Key::Offer,
                    "answer" => Key::Answer,
                    "candidate" => Key::Candidate,
                    _ => return Err(unusual()),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The value of `type`, if it names a relay.
struct Kind(Relayed);

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl Visitor<'_> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a relay type")
            }
            fn visit_str<E: de::Error>(self, kind: &str) -> Result<Kind, E> {
                Ok(Kind(match kind {
                    "offer" => Relayed::Offer,
                    "answer" => Relayed::Answer,
                    "candidate" => Relayed::Candidate,
                    _ => return Err(unusual()),
                }))
            }
        }
        deserializer.deserialize_str(KindVisitor)
    }
}

/// Whether `json`, a value serde_json has scanned as valid, is also one
/// that `serde_json::Value` accepts for sure. A raw scan lets through three
/// things `Value` refuses: nesting deeper than serde_json's recursion limit
/// (128), numbers out of `f64`'s range and `\u` escapes of lone surrogates.
/// This looks for their signs (nesting over 100, a number with an exponent
/// or over 300 characters, any `\u` escape of a surrogate) and says no to
/// any of them, leaving the message to the full parser, which decides
/// exactly. SDPs and candidates show none of them.
fn plainly_valid(json: &str) -> bool {
    const MAX_DEPTH: usize = 100;
    const MAX_NUMBER: usize = 300;
    let bytes = json.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // To the closing quote, a search for it or a backslash at a
                // time (an SDP is one long string with an escape a line).
                i += 1;
                loop {
                    let Some(found) = bytes.get(i..).and_then(|rest| memchr2(b'"', b'\\', rest))
                    else {
                        // Unterminated: serde_json has refused it already.
                        return false;
                    };
                    i += found;
                    if bytes[i] == b'"' {
                        break;
                    }
                    let surrogate = bytes.get(i + 1) == Some(&b'u')
                        && matches!(bytes.get(i + 2), Some(b'd' | b'D'))
                        && matches!(
                            bytes.get(i + 3),
                            Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                        );
                    if surrogate {
                        return false;
                    }
                    // The backslash and the character it escapes.
                    i += 2;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i + 1 < bytes.len()
                    && matches!(bytes[i + 1], b'0'..=b'9' | b'.' | b'-' | b'+')
                {
                    i += 1;
                }
                if matches!(bytes.get(i + 1), Some(b'e' | b'E')) || i - start >= MAX_NUMBER {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientMessage, ServerMessage};

    /// What the full path makes of `text`, as the frame it would forward
    /// from `from`; `None` if it is not a relay (or refused).
    fn full_path(text: &str, from: &PeerId) -> Option<(Option<PeerId>, ServerMessage)> {
        let from = from.clone();
        Some(match ClientMessage::parse(text).ok()? {
            ClientMessage::Offer { to, offer } => (to, ServerMessage::Offer { from, offer }),
            ClientMessage::Answer { to, answer } => (to, ServerMessage::Answer { from, answer }),
            ClientMessage::Candidate { to, candidate } => {
                (to, ServerMessage::Candidate { from, candidate })
            }
            _ => return None,
        })
    }

    #[test]
    fn what_the_fast_path_takes_the_full_path_takes_alike() {
        let from = PeerId::new("abc234");
        let fast = [
            r#"{"type":"offer","to":"x","offer":{"type":"offer","sdp":"v=0\r\n"}}"#,
            r#"{"type":"offer","offer":{"s":"a\"b\\","t":"\\ud83d \u00e9"}}"#,
            r#"{"offer":{"sdp":"a\u00e9\"b","type":"offer"},"to":"x","type":"offer"}"#,
            r#" { "type" : "answer" , "answer" : { "b" : [1, 2.5, -3.25, true, null] } } "#,
            r#"{"type":"candidate","to":null,"candidate":null}"#,
            r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 ::1 9 typ host","sdpMid":"0"}}"#,
            r#"{"type":"off\u0065r","to":"y","offer":"\u00e9\n"}"#,
        ];
        for text in fast {
            let relay = parse(text).unwrap_or_else(|| panic!("fast path refused {text}"));
            let (to, expected) = full_path(text, &from).expect("full path accepts it");
            assert_eq!(relay.to, to, "{text}");
            let spliced = frame(relay.kind, &from, relay.payload);
            let spliced: ServerMessage = serde_json::from_str(&spliced).expect("valid frame");
            assert_eq!(spliced, expected, "{text}");
        }
    }

    #[test]
    fn anything_unusual_goes_to_the_full_path() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let unusual = [
            r#"{"type":"offer","to":"x","offer":1,"offer":2}"#.to_owned(),
            r#"{"type":"offer","type":"offer","offer":1}"#.to_owned(),
            r#"{"type":"offer","to":"x"}"#.to_owned(),
            r#"{"type":"offer","offer":1,"answer":2}"#.to_owned(),
            r#"{"type":"offer","offer":1,"extra":2}"#.to_owned(),
            r#"{"type":"offer","to":5,"offer":1}"#.to_owned(),
            r#"{"type":"join_room","room":"r","name":"n"}"#.to_owned(),
            r#"{"type":"offer","offer":{"sdp":"\ud800"}}"#.to_owned(),
            r#"{"type":"offer","offer":1e400}"#.to_owned(),
            r#"{"type":"offer","offer":[1E4]}"#.to_owned(),
            r#"{"type":"offer","offer":{"s":"\uDFFF"}}"#.to_owned(),
            // Past escaped quotes and backslashes, in a later string.
            r#"{"type":"offer","offer":{"s":"a\"b\\","t":"v=0\r\n\ud83d"}}"#.to_owned(),
            format!(r#"{{"type":"offer","offer":1{}}}"#, "0".repeat(400)),
            format!(r#"{{"type":"offer","offer":{deep}}}"#),
            r#"{"type":"offer","offer":{"a":}}"#.to_owned(),
            r#"[1]"#.to_owned(),
            r#"{"type":"offer","offer":1} x"#.to_owned(),
        ];
        for text in &unusual {
            assert!(parse(text).is_none(), "fast path took {text}");
        }
    }

    #[test]
    fn ids_that_need_escaping_are_escaped() {
        let payload = RawValue::from_string("{}".to_owned()).unwrap();
        let text = frame(Relayed::Offer, &PeerId::new("a\"b"), &payload);
        assert_eq!(
            text.as_str(),
            r#"{"type":"offer","from":"a\"b","offer":{}}"#
        );
    }
}
