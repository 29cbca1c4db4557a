//! Parsing client frames, and saying what is wrong with a bad one.
//!
//! A valid message parses in one serde pass plus a cheap scan of its
//! top-level keys (a repeated key is refused: serde would keep one of the
//! two silently). Only a message that fails gets looked at again, field by
//! field, to name the field and the type it needs. Error text never echoes
//! more than a short, escaped excerpt of what the client sent, whatever its
//! size: see [`MAX_ERROR_MESSAGE_CHARS`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{ClientMessage, ErrorCode, MessageError};

/// Longest `message` of an error reply, in characters.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 200;

/// Longest excerpt of client input quoted in an error, in characters of its
/// escaped form.
const EXCERPT_CHARS: usize = 24;

/// What a field must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// A JSON string.
    String,
    /// A whole number that fits a `u32`.
    U32,
    /// `true` or `false`.
    Bool,
    /// Anything, `null` included (payloads forwarded untouched).
    Any,
}

impl Expect {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::U32 => value.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)),
            Self::Bool => value.is_boolean(),
            Self::Any => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::U32 => "an integer from 0 to 4294967295",
            Self::Bool => "a boolean (true or false)",
            Self::Any => "a JSON value",
        }
    }
}

/// One field of a client message: its name, what it holds, and whether it
/// may be left out (or `null`).
pub(super) type Field = (&'static str, Expect, Required);

/// Whether a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Required {
    /// Must be there (for [`Expect::Any`], `null` counts as there).
    Yes,
    /// May be absent or `null`.
    No,
}

/// The fields of each [`ClientMessage`] type, as its serde form has them
/// (kept in step with the enum by this module's tests).
pub(super) fn fields(kind: &str) -> &'static [Field] {
    use Expect::{Any, Bool, String, U32};
    use Required::{No, Yes};
    match kind {
        "hello" => &[("version", U32, Yes)],
        "join_room" => &[
            ("room", String, Yes),
            ("name", String, Yes),
            ("password", String, No),
        ],
        "check_room" => &[("room", String, Yes), ("password", String, No)],
        "offer" => &[("to", String, No), ("offer", Any, Yes)],
        "answer" => &[("to", String, No), ("answer", Any, Yes)],
        "candidate" => &[("to", String, No), ("candidate", Any, Yes)],
        "call" | "accept" | "decline" => &[("to", String, Yes), ("name", String, No)],
        "ringing" => &[("to", String, Yes), ("name", String, Yes)],
        "hang_up" => &[("to", String, Yes)],
        "media_state" => &[("audio_muted", Bool, Yes), ("video_muted", Bool, Yes)],
        _ => &[],
    }
}

/// [`ClientMessage::parse`]: see the module docs.
pub(super) fn parse(text: &str) -> Result<ClientMessage, MessageError> {
    if let Ok(message) = serde_json::from_str(text) {
        return match duplicate_key(text) {
            Some(key) => Err(duplicate(&key)),
            None => Ok(message),
        };
    }
    // Parse to a Value to say what is wrong: serde's own error for an
    // internally tagged enum cannot tell "bad JSON" from "unknown variant"
    // from "wrong field", and it quotes the offending value whole.
    let value: Value = serde_json::from_str(text).map_err(|e| {
        MessageError::new(
            ErrorCode::BadJson,
            // serde_json's syntax errors say where, never what.
            format!("message is not valid JSON: {e}"),
        )
    })?;
    // A Value keeps the last of two equal keys: look before trusting it.
    if let Some(key) = duplicate_key(text) {
        return Err(duplicate(&key));
    }
    let Value::Object(object) = &value else {
        return Err(invalid(format!(
            "expected a JSON object with a \"type\" field, got {}",
            describe(&value)
        )));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(invalid(format!(
                "\"type\" must be a string, got {}",
                describe(other)
            )))
        }
        None => return Err(invalid("message has no \"type\" field".to_owned())),
    };
    if !ClientMessage::TYPES.contains(&kind) {
        return Err(MessageError::new(
            ErrorCode::UnknownType,
            format!(
                "unknown message type {}; expected one of: {}",
                quoted(kind, EXCERPT_CHARS),
                ClientMessage::TYPES.join(", ")
            ),
        ));
    }
    for &(name, expect, required) in fields(kind) {
        match (object.get(name), required) {
            (None, Required::No) | (Some(Value::Null), Required::No) => {}
            (None, Required::Yes) => {
                return Err(invalid(format!(
                    "\"{kind}\" message has no \"{name}\" field ({})",
                    expect.describe()
                )))
            }
            (Some(value), _) if !expect.accepts(value) => {
                return Err(invalid(format!(
                    "\"{name}\" of a \"{kind}\" message must be {}, got {}",
                    expect.describe(),
                    describe(value)
                )))
            }
            _ => {}
        }
    }
    // Every field checked out, yet serde refused: say so without its text,
    // which may quote the input at length. (Unreachable while `fields`
    // matches the enum.)
    let kind = kind.to_owned();
    serde_json::from_value(value).map_err(|e| {
        invalid(format!(
            "invalid \"{kind}\" message: {}",
            excerpt(&e.to_string(), 80)
        ))
    })
}

fn invalid(message: String) -> MessageError {
    MessageError::new(ErrorCode::InvalidMessage, message)
}

fn duplicate(key: &str) -> MessageError {
    MessageError::new(
        ErrorCode::DuplicateKey,
        format!(
            "key {} appears twice in the message; send each key once",
            quoted(key, EXCERPT_CHARS)
        ),
    )
}

/// What a JSON value is, with a short excerpt of a scalar's text.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {}", excerpt(&n.to_string(), EXCERPT_CHARS)),
        Value::String(s) => format!("a string {}", quoted(s, EXCERPT_CHARS)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `text` quoted and escaped (control and other invisible characters as
/// `\u{…}`), its escaped form cut at `max` characters with `…` after the
/// closing quote.
pub(crate) fn quoted(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max.min(text.len()) + 4);
    out.push('"');
    let mut shown = 0;
    for c in text.chars() {
        // Like `{:?}` on a str: a single quote needs no escape there.
        let escaped: Cow<'_, str> = match c {
            '\'' => "'".into(),
            c => c.escape_debug().to_string().into(),
        };
        let width = escaped.chars().count();
        if shown + width > max {
            out.push_str("\"…");
            return out;
        }
        out.push_str(&escaped);
        shown += width;
    }
    out.push('"');
    out
}

/// `text` cut at `max` characters (with `…`), control characters escaped.
fn excerpt(text: &str, max: usize) -> String {
    let quoted = quoted(text, max);
    let inner = quoted.strip_prefix('"').unwrap_or(&quoted);
    match inner.strip_suffix('"') {
        Some(whole) => whole.to_owned(),
        None => inner.replacen("\"…", "…", 1),
    }
}

/// Cuts `message` to [`MAX_ERROR_MESSAGE_CHARS`] characters, ending it with
/// `…` when cut.
pub(super) fn bounded(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_ERROR_MESSAGE_CHARS - 1) {
        if message[cut..].chars().nth(1).is_some() {
            message.truncate(cut);
            message.push('…');
        }
    }
    message
}

/// The first key that appears twice in the top-level object of `text`, if
/// `text` is a JSON object and has one. Nested objects are not looked at:
/// the server interprets only the top level and forwards payloads as they
/// are.
pub(super) fn duplicate_key(text: &str) -> Option<String> {
    serde_json::from_str::<FirstDuplicate>(text).ok()?.0
}

/// See [`duplicate_key`].
struct FirstDuplicate(Option<String>);

impl<'de> Deserialize<'de> for FirstDuplicate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevel)
    }
}

struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = FirstDuplicate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Borrowed from the input unless escaped; sorted afterwards, so even
        // an object with thousands of keys costs n log n, not n².
        let mut keys: Vec<Key<'de>> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            map.next_value::<IgnoredAny>()?;
            keys.push(key);
        }
        if keys.len() < 2 {
            return Ok(FirstDuplicate(None));
        }
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let repeated = keys
            .windows(2)
            .find(|pair| pair[0].0 == pair[1].0)
            .map(|pair| pair[0].0.clone().into_owned());
        Ok(FirstDuplicate(repeated))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FirstDuplicate(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(FirstDuplicate(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(FirstDuplicate(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(FirstDuplicate(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(FirstDuplicate(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(FirstDuplicate(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(FirstDuplicate(None))
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E: de::Error>(self, key: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::all_client_messages;
    use super::*;
    use serde_json::json;

    fn error(text: &str) -> MessageError {
        ClientMessage::parse(text).unwrap_err()
    }

    #[test]
    fn fields_match_the_enum() {
        for message in all_client_messages() {
            let kind = message.type_name();
            let Value::Object(object) = serde_json::to_value(&message).unwrap() else {
                panic!("{kind} serializes to an object");
            };
            let known = fields(kind);
            for key in object.keys().filter(|k| *k != "type") {
                assert!(
                    known.iter().any(|(name, ..)| name == key),
                    "{kind}.{key} is missing from `fields`"
                );
            }
            for &(name, expect, required) in known {
                // Each field is checked and named.
                let mut wrong = object.clone();
                let bad = if expect == Expect::String {
                    json!(7)
                } else {
                    json!("x")
                };
                if expect != Expect::Any {
                    wrong.insert(name.to_owned(), bad);
                    let refused = error(&Value::Object(wrong).to_string());
                    assert_eq!(refused.code, ErrorCode::InvalidMessage, "{kind}.{name}");
                    assert!(refused.message.contains(name), "{}", refused.message);
                    assert!(
                        refused.message.contains(expect.describe()),
                        "{}",
                        refused.message
                    );
                }
                // And only required fields are required.
                let mut without = object.clone();
                without.remove(name);
                without.insert("type".into(), json!(kind));
                for (other, other_expect, _) in known.iter().filter(|(n, ..)| *n != name) {
                    without.entry(*other).or_insert(match other_expect {
                        Expect::String => json!("s"),
                        Expect::U32 => json!(1),
                        Expect::Bool => json!(true),
                        Expect::Any => json!({}),
                    });
                }
                let parsed = ClientMessage::parse(&Value::Object(without).to_string());
                match required {
                    Required::No => assert!(parsed.is_ok(), "{kind}.{name}: {parsed:?}"),
                    Required::Yes => {
                        let refused = parsed.unwrap_err();
                        assert_eq!(refused.code, ErrorCode::InvalidMessage);
                        assert!(refused.message.contains(name), "{}", refused.message);
                    }
                }
            }
        }
    }

    #[test]
    fn errors_name_the_field_and_type_in_a_few_words() {
        let huge = "\u{7f}".repeat(40_000);
        let refused = error(&format!(r#"{{"type":"hello","version":"{huge}"}}"#));
        assert_eq!(refused.code, ErrorCode::InvalidMessage);
        assert!(refused.message.starts_with(
            "\"version\" of a \"hello\" message must be an integer from 0 to 4294967295, \
             got a string \"\\u{7f}"
        ));
        assert!(refused.message.chars().count() <= MAX_ERROR_MESSAGE_CHARS);
        let refused = error(r#"{"type":"hello","version":-1}"#);
        assert!(refused.message.ends_with("got the number -1"), "{refused}");
        let refused = error(r#"{"type":"media_state","audio_muted":true}"#);
        assert!(
            refused.message.contains("no \"video_muted\" field"),
            "{refused}"
        );
        let refused = error(&format!(r#"{{"type":"{huge}"}}"#));
        assert_eq!(refused.code, ErrorCode::UnknownType);
        assert!(refused.message.contains("join_room"), "{refused}");
        assert!(refused.message.chars().count() <= MAX_ERROR_MESSAGE_CHARS);
    }

    #[test]
    fn duplicate_keys_are_refused_at_the_top_level_only() {
        assert_eq!(
            duplicate_key(r#"{"type":"a","to":"b","x":{},"to":"c"}"#).as_deref(),
            Some("to")
        );
        // Escaped and plain spellings of one key are the same key.
        assert_eq!(
            duplicate_key(r#"{"type":"a","typ\u0065":"b"}"#).as_deref(),
            Some("type")
        );
        assert_eq!(duplicate_key(r#"{"a":{"b":1,"b":2},"c":{"b":3}}"#), None);
        assert_eq!(duplicate_key(r#"[{"a":1,"a":2}]"#), None);
        assert_eq!(duplicate_key(r#""x""#), None);
        assert_eq!(duplicate_key("{not json"), None);
        let many: Vec<String> = (0..5_000).map(|i| format!("\"k{i}\":{i}")).collect();
        assert_eq!(duplicate_key(&format!("{{{}}}", many.join(","))), None);
        assert_eq!(
            duplicate_key(&format!("{{{},\"k4999\":0}}", many.join(","))).as_deref(),
            Some("k4999")
        );

        for text in [
            r#"{"type":"hello","version":1,"version":1}"#,
            r#"{"type":"leave_room","type":"hello","version":1}"#,
            r#"{"type":"candidate","to":"a","candidate":{},"to":"b"}"#,
            r#"{"type":"hello","version":1,"x":1,"x":2}"#,
            r#"{"type":"hello","version":"1","version":"2"}"#,
        ] {
            let refused = error(text);
            assert_eq!(refused.code, ErrorCode::DuplicateKey, "{text}: {refused}");
        }
        let ok = r#"{"type":"candidate","to":"a","candidate":{"to":1,"to":2}}"#;
        assert!(ClientMessage::parse(ok).is_ok());
    }

    #[test]
    fn quoting_is_escaped_and_bounded() {
        assert_eq!(quoted("abc", 10), "\"abc\"");
        assert_eq!(quoted("it's", 10), "\"it's\"");
        assert_eq!(quoted("a\"b", 10), "\"a\\\"b\"");
        assert_eq!(quoted("abcdef", 3), "\"abc\"…");
        assert_eq!(quoted("\u{0}\u{0}", 7), "\"\\0\\0\"");
        assert_eq!(quoted("\u{7f}\u{7f}", 8), "\"\\u{7f}\"…");
        assert_eq!(quoted("\u{202e}", 10), "\"\\u{202e}\"");
        assert_eq!(quoted("été", 10), "\"été\"");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("ab", 3), "ab");
    }

    #[test]
    fn messages_are_bounded() {
        let long = "é".repeat(1_000);
        let bounded = bounded(long.clone());
        assert_eq!(bounded.chars().count(), MAX_ERROR_MESSAGE_CHARS);
        assert!(bounded.ends_with('…'));
        let exact = "x".repeat(MAX_ERROR_MESSAGE_CHARS);
        assert_eq!(super::bounded(exact.clone()), exact);
        assert_eq!(
            MessageError::new(ErrorCode::BadJson, long)
                .message
                .chars()
                .count(),
            MAX_ERROR_MESSAGE_CHARS
        );
    }
}
