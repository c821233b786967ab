//! Text a component produced, made safe to show: for a terminal, a log line or a summary.
//!
//! A component's strings (skip reasons, error texts) are its own; written raw they could move
//! the cursor, retitle the window or write the clipboard through escape sequences, reorder what a
//! reader sees (bidirectional overrides), or fill a log. NDJSON records stay JSON-escaped as they
//! are; this is for everything else.

/// Longest component text shown in one message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// `s` with control characters and bidirectional overrides replaced by `�`, cut to `max`
/// characters (an ellipsis marks the cut).
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() || is_bidi_control(c) {
            '\u{fffd}'
        } else {
            c
        });
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_overrides_are_neutralized_and_length_is_capped() {
        assert_eq!(
            printable("a\x1b]52;c;aGk=\x07b\r\n\u{202e}c\u{9b}", 100),
            "a\u{fffd}]52;c;aGk=\u{fffd}b\u{fffd}\u{fffd}\u{fffd}c\u{fffd}"
        );
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("héllo", 5), "héllo");
    }
}
