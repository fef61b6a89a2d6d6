//! Escaping of untrusted text (model output, tool results, tool names) for HTML and terminals.
//!
//! Everything the renderers show comes from a model or a tool and must be treated as hostile:
//! markup is escaped, and characters that HTML/XML parsers reject or terminals interpret
//! (C0/C1 controls, DEL, Unicode noncharacters) are replaced by visible stand-ins.

/// Replacement for a character that must not reach the output as is, or `None` to keep it.
///
/// C0 controls other than tab, line feed and carriage return become their Unicode "control
/// picture" (U+2400 + code, e.g. ESC shows as `␛`) so that ANSI sequences in tool output stay
/// readable; DEL becomes `␡`. C1 controls and noncharacters are parse errors in HTML (and U+FFFE,
/// U+FFFF are not XML characters), so they become U+FFFD.
fn stand_in(c: char) -> Option<char> {
    let code = c as u32;
    match code {
        0x09 | 0x0A | 0x0D => None,
        0x00..=0x1F => char::from_u32(0x2400 + code),
        0x7F => Some('\u{2421}'),
        0x80..=0x9F | 0xFDD0..=0xFDEF => Some('\u{FFFD}'),
        _ if code & 0xFFFE == 0xFFFE => Some('\u{FFFD}'),
        _ => None,
    }
}

/// Appends `text` to `out`, escaped for HTML text content and (double- or single-quoted)
/// attribute values. The result is also well-formed XML character data.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(stand_in(c).unwrap_or(c)),
        }
    }
}

/// `text` escaped for HTML (see [`push_escaped`]).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    push_escaped(&mut out, text);
    out
}

/// `text` made safe for one line of terminal output: controls (escape sequences included) and
/// line breaks are replaced by visible stand-ins, and the result is cut to `max_chars`
/// characters (with `…` when cut).
pub fn terminal_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        out.push(match c {
            '\n' => '\u{23CE}',
            '\t' | '\r' => ' ',
            _ => stand_in(c).unwrap_or(c),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_text_kept() {
        assert_eq!(
            escape_html("</div><script>alert('x' & \"y\")</script>"),
            "&lt;/div&gt;&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(
            escape_html("日本語 🦀 مرحبا e\u{301}"),
            "日本語 🦀 مرحبا e\u{301}"
        );
        assert_eq!(escape_html("a\tb\r\nc"), "a\tb\r\nc");
    }

    #[test]
    fn controls_and_noncharacters_get_stand_ins() {
        assert_eq!(
            escape_html("\u{1b}[31m\u{0}\u{7f}"),
            "\u{241b}[31m\u{2400}\u{2421}"
        );
        assert_eq!(
            escape_html("\u{85}\u{fffe}\u{1ffff}\u{fdd0}"),
            "\u{fffd}\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn terminal_lines_stay_on_one_line_and_are_cut() {
        assert_eq!(terminal_line("a\nb\u{1b}[2J", 80), "a\u{23ce}b\u{241b}[2J");
        assert_eq!(terminal_line("abcdef", 3), "abc…");
        assert_eq!(terminal_line("abc", 3), "abc");
    }
}
