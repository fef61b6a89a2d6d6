//! Answer extraction from a model response: the last `<answer>…</answer>` block and the last
//! brace-matched `\boxed{…}` / `\fbox{…}`. Works on any input without panicking (fuzzed in the
//! tests); every delimiter is ASCII, so byte offsets found here are always char boundaries.

/// Content of the last complete `<answer>…</answer>` block.
pub fn answer_block(text: &str) -> Option<&str> {
    let end = text.rfind("</answer>")?;
    let start = text[..end].rfind("<answer>")? + "<answer>".len();
    Some(&text[start..end])
}

/// Content of the last `\boxed{…}` or `\fbox{…}` (braces matched, escaped `\{` `\}` skipped), or
/// of `\boxed x` (the space form: up to the next `$` or line end). `None` when there is none or
/// the last one is unclosed.
pub fn last_boxed(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut best: Option<(usize, usize)> = None;
    for cmd in ["\\boxed", "\\fbox"] {
        if let Some(pos) = rfind_command(text, cmd) {
            if best.is_none_or(|(p, _)| pos > p) {
                best = Some((pos, cmd.len()));
            }
        }
    }
    let (pos, len) = best?;
    let mut i = pos + len;
    let body_start = {
        let mut j = i;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        j
    };
    if body_start < bytes.len() && bytes[body_start] == b'{' {
        i = body_start;
        return matched_group(text, i).map(|(inner, _)| inner);
    }
    if body_start > i {
        // `\boxed 5`: the reference takes everything up to the next `$`.
        let rest = &text[body_start..];
        let stop = rest.find(['$', '\n']).unwrap_or(rest.len());
        let inner = rest[..stop].trim_end();
        return (!inner.is_empty()).then_some(inner);
    }
    None
}

/// Position of the last occurrence of a LaTeX command name that is not a prefix of a longer name
/// (`\boxed` but not `\boxedsomething`).
fn rfind_command(text: &str, cmd: &str) -> Option<usize> {
    let mut end = text.len();
    while let Some(pos) = text[..end].rfind(cmd) {
        let next = text.as_bytes().get(pos + cmd.len());
        if !next.is_some_and(u8::is_ascii_alphabetic) {
            return Some(pos);
        }
        end = pos;
    }
    None
}

/// For `text[open] == '{'`, the content up to the matching `}` and the index just past it.
/// Escaped braces (`\{`, `\}`) do not count.
pub(crate) fn matched_group(text: &str, open: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(open) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[open + 1..i], i + 1));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The answer a response gives: the last `\boxed{}` of the last answer block, else the whole
/// answer block, else the last `\boxed{}` anywhere. Trimmed; `None` when nothing is found.
pub fn extract_answer(response: &str) -> Option<String> {
    let found = match answer_block(response) {
        Some(block) => Some(last_boxed(block).unwrap_or(block)),
        None => last_boxed(response),
    };
    found
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_braces_and_last_box() {
        assert_eq!(
            last_boxed(r"\boxed{1} then \boxed{\frac{1}{2}}"),
            Some(r"\frac{1}{2}")
        );
        assert_eq!(last_boxed(r"x \fbox{7} y"), Some("7"));
        assert_eq!(last_boxed(r"\boxed{\{1,2\}}"), Some(r"\{1,2\}"));
        assert_eq!(last_boxed(r"\boxed{unclosed {"), None);
        assert_eq!(last_boxed(r"\boxed 42$ more"), Some("42"));
        assert_eq!(last_boxed(r"\boxedx{3}"), None);
        assert_eq!(last_boxed("no box"), None);
    }

    #[test]
    fn answer_block_is_the_last_complete_one() {
        assert_eq!(
            answer_block("<answer>a</answer> <answer>b</answer>"),
            Some("b")
        );
        assert_eq!(answer_block("<answer>a</answer> <answer>b"), Some("a"));
        assert_eq!(answer_block("</answer><answer>"), None);
        assert_eq!(
            extract_answer(r"<answer>The answer is \boxed{12}.</answer>").as_deref(),
            Some("12")
        );
        assert_eq!(
            extract_answer("<answer> Paris </answer>").as_deref(),
            Some("Paris")
        );
        assert_eq!(extract_answer(r"so \boxed{5}").as_deref(), Some("5"));
        assert_eq!(extract_answer("nothing"), None);
    }
}
