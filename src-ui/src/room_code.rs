//! Room codes people can read aloud: `abc-defg-hjk`.

use peercall_signal::address;

/// Letters that are hard to mix up when read or heard (no i, l, o, 0, 1).
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz";

/// A fresh random room code, e.g. `kfd-mwpa-xzt`.
pub fn generate() -> String {
    let mut bytes = [0u8; 10];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!(
        "{}-{}-{}",
        letters[..3].iter().collect::<String>(),
        letters[3..7].iter().collect::<String>(),
        letters[7..].iter().collect::<String>()
    )
}

/// Accepts what a person types or pastes (a code, a code with spaces or
/// capitals, or a link naming the room, read by [`address::room_in_link`])
/// and returns the room name, or `None` when nothing usable is left (a link
/// that names no room among them).
pub fn normalize(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let linked = trimmed
        .contains("://")
        .then(|| address::room_in_link(trimmed));
    let code = match &linked {
        Some(room) => room.as_deref()?,
        None => trimmed,
    };
    let code: String = code
        .chars()
        .map(|c| {
            if c.is_whitespace() {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let code = code.trim_matches('-').to_owned();
    (!code.is_empty() && code.len() <= 64).then_some(code)
}
