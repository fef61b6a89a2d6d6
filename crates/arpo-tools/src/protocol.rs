//! The tag protocol (arpo.md §1): find a complete tool call in generated text, extract its
//! content, and format the tool's result as the forced ` <result>\n…\n</result>` segment.
//!
//! Only text the model generated in the current turn should be scanned: a system prompt that shows
//! an example call (`<python>print(1)</python>`) must never be mistaken for a call. Functions that
//! take a full context therefore also take the byte offset where generation started and never look
//! before it. Every function here works on any `&str` (any bytes that are valid UTF-8, any nesting
//! or repetition of tags) and never panics: offsets come from `str::find`/`rfind`, so slices always
//! fall on character boundaries.

use std::ops::Range;

/// The opening tag of a tool result.
pub const RESULT_OPEN: &str = "<result>";
/// The closing tag of a tool result.
pub const RESULT_CLOSE: &str = "</result>";

/// Closing tags that end a block of text in the agent format; when a call's opening tag is
/// missing, its content is recovered from the last of these (or from the start of generation).
const BOUNDARY_TAGS: [&str; 3] = ["</think>", RESULT_CLOSE, "</answer>"];

/// The tool tags a model may use, e.g. `python` and `search` (written `<python>…</python>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSet {
    tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    name: String,
    open: String,
    close: String,
}

impl TagSet {
    /// A tag set from tag names. Empty names, names containing `<`, `>`, `/` or whitespace, and
    /// duplicates are skipped (a tag name is a plain word).
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut tags: Vec<Tag> = Vec::new();
        for name in names {
            let name = name.as_ref();
            let valid = !name.is_empty()
                && !name
                    .chars()
                    .any(|c| c == '<' || c == '>' || c == '/' || c.is_whitespace());
            if valid && !tags.iter().any(|t| t.name == name) {
                tags.push(Tag {
                    name: name.to_string(),
                    open: format!("<{name}>"),
                    close: format!("</{name}>"),
                });
            }
        }
        Self { tags }
    }

    /// The ARPO default: `python` and `search`.
    pub fn arpo_default() -> Self {
        Self::new(["python", "search"])
    }

    /// The tag names, in the order given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|t| t.name.as_str())
    }

    /// The closing tags (`</python>`, …): the stop sequences generation should stop at.
    pub fn stop_sequences(&self) -> Vec<String> {
        self.tags.iter().map(|t| t.close.clone()).collect()
    }

    /// Whether `name` is one of the tags.
    pub fn contains(&self, name: &str) -> bool {
        self.tags.iter().any(|t| t.name == name)
    }
}

/// A complete tool call found in generated text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedCall {
    /// The tag name (the tool to call).
    pub tool: String,
    /// The call content with surrounding whitespace trimmed (code or query).
    pub content: String,
    /// Byte range of the whole call in the scanned text, from the opening tag (or the recovery
    /// point when it is missing) to the end of the closing tag.
    pub span: Range<usize>,
    /// False when no opening tag was found and the content was recovered from the last block
    /// boundary (`</think>`, `</result>`, `</answer>`, another tool's closing tag) or from the
    /// start of generation. The caller decides whether to run such a call.
    pub open_tag_found: bool,
}

/// Detects a tool call that *ends* the generated text: the text, ignoring trailing whitespace,
/// ends with a closing tool tag. This is the check to run when generation stopped on a stop
/// sequence or at EOS. Returns `None` when the text does not end with a closing tag.
pub fn detect_call_at_end(generated: &str, tags: &TagSet) -> Option<DetectedCall> {
    let trimmed = generated.trim_end();
    let tag = tags
        .tags
        .iter()
        .find(|t| trimmed.ends_with(t.close.as_str()))?;
    let close_start = trimmed.len() - tag.close.len();
    Some(extract_before(generated, close_start, tag, tags))
}

/// Like [`detect_call_at_end`] on `full_text[generation_start..]`, for callers that keep the
/// whole context in one string; nothing before `generation_start` (the prompt, earlier turns) is
/// looked at. Returned spans are relative to `full_text`. An offset past the end or inside a
/// character is clamped to the previous character boundary.
pub fn detect_call_at_end_in(
    full_text: &str,
    generation_start: usize,
    tags: &TagSet,
) -> Option<DetectedCall> {
    let start = floor_char_boundary(full_text, generation_start);
    let mut call = detect_call_at_end(&full_text[start..], tags)?;
    call.span = (call.span.start + start)..(call.span.end + start);
    Some(call)
}

/// Finds the *first* complete tool call in generated text (the earliest closing tool tag), for
/// generation that did not stop at the closing tag. Text after `span.end` was generated past the
/// call and should be dropped by the caller, as the reference does.
pub fn first_call(generated: &str, tags: &TagSet) -> Option<DetectedCall> {
    let (close_start, tag) = tags
        .tags
        .iter()
        .filter_map(|t| generated.find(t.close.as_str()).map(|pos| (pos, t)))
        .min_by_key(|(pos, _)| *pos)?;
    Some(extract_before(generated, close_start, tag, tags))
}

/// Extracts the content of the call whose closing tag starts at `close_start`: from the last
/// opening tag before it (the reference takes the last `<tag>` before the last `</tag>`), or, when
/// there is none, from the last block boundary. Unlike the reference, an opening tag that an
/// earlier call of the same tool already closed is not reused: `<python>a</python> … b</python>`
/// is a call of `b` with its opening tag missing, not a call of `a</python> … b`.
fn extract_before(text: &str, close_start: usize, tag: &Tag, tags: &TagSet) -> DetectedCall {
    let end = close_start + tag.close.len();
    let before = &text[..close_start];
    let floor = before
        .rfind(tag.close.as_str())
        .map_or(0, |pos| pos + tag.close.len());
    let window = &text[floor..close_start];
    let (content_start, span_start, open_tag_found) = match window.rfind(tag.open.as_str()) {
        Some(pos) => (floor + pos + tag.open.len(), floor + pos, true),
        None => {
            let start = recovery_start(before, tags);
            (start, start, false)
        }
    };
    DetectedCall {
        tool: tag.name.clone(),
        content: text[content_start..close_start].trim().to_string(),
        span: span_start..end,
        open_tag_found,
    }
}

/// Byte offset just after the last block boundary in `window` (0 when there is none).
fn recovery_start(window: &str, tags: &TagSet) -> usize {
    let boundaries = BOUNDARY_TAGS
        .iter()
        .copied()
        .chain(tags.tags.iter().map(|t| t.close.as_str()));
    boundaries
        .filter_map(|b| window.rfind(b).map(|pos| pos + b.len()))
        .max()
        .unwrap_or(0)
}

/// The largest character boundary of `text` that is `<= index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// Formats a tool's output as the forced segment appended after a call:
/// ` <result>\n{output}\n</result>` (arpo.md §1). The output is inserted verbatim.
pub fn format_result(output: &str) -> String {
    let mut s = String::with_capacity(output.len() + RESULT_OPEN.len() + RESULT_CLOSE.len() + 3);
    s.push(' ');
    s.push_str(RESULT_OPEN);
    s.push('\n');
    s.push_str(output);
    s.push('\n');
    s.push_str(RESULT_CLOSE);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> TagSet {
        TagSet::arpo_default()
    }

    #[test]
    fn plain_call_at_end() {
        let text = "<think>compute</think> <python>print(6*7)</python>";
        let call = detect_call_at_end(text, &tags()).expect("call");
        assert_eq!(call.tool, "python");
        assert_eq!(call.content, "print(6*7)");
        assert!(call.open_tag_found);
        assert_eq!(&text[call.span.clone()], "<python>print(6*7)</python>");
    }

    #[test]
    fn trailing_whitespace_is_allowed_but_trailing_text_is_not() {
        assert!(detect_call_at_end("<search> q </search> \n", &tags()).is_some());
        assert!(detect_call_at_end("<search>q</search> and more", &tags()).is_none());
    }

    #[test]
    fn repeated_tags_take_the_last_opening_before_the_closing() {
        // The reference does `rindex(end_tag)` then `rindex(start_tag, 0, end_pos)`.
        let text =
            "<search>first</search> <result>\nx\n</result> <search>a <search>second</search>";
        let call = detect_call_at_end(text, &tags()).expect("call");
        assert_eq!(call.content, "second");
    }

    #[test]
    fn nested_other_tag_is_kept_as_content() {
        let text = "<python>s = '<search>x</search>'\nprint(s)</python>";
        let call = detect_call_at_end(text, &tags()).expect("call");
        assert_eq!(call.tool, "python");
        assert_eq!(call.content, "s = '<search>x</search>'\nprint(s)");
    }

    #[test]
    fn missing_opening_tag_recovers_from_last_boundary() {
        let text = "<think>I will search</think> capital of France</search>";
        let call = detect_call_at_end(text, &tags()).expect("call");
        assert!(!call.open_tag_found);
        assert_eq!(call.content, "capital of France");
        let text = "<search>a</search> <result>\nr\n</result> print(2)</python>";
        let call = detect_call_at_end(text, &tags()).expect("call");
        assert!(!call.open_tag_found);
        assert_eq!(call.content, "print(2)");
    }

    #[test]
    fn an_opening_tag_already_closed_is_not_reused() {
        let text = "<python>a = 1</python> <result>\n\n</result> print(a)</python>";
        let call = detect_call_at_end(text, &tags()).expect("call");
        assert!(!call.open_tag_found);
        assert_eq!(call.content, "print(a)");
    }

    #[test]
    fn missing_opening_tag_without_boundary_uses_start_of_generation() {
        let call = detect_call_at_end("x = 1\nprint(x)</python>", &tags()).expect("call");
        assert!(!call.open_tag_found);
        assert_eq!(call.content, "x = 1\nprint(x)");
        assert_eq!(call.span, 0..23);
    }

    #[test]
    fn system_prompt_example_call_is_never_used() {
        // The reference trap: a prompt that shows `<python>…</python>` as an example. A missing
        // opening tag in the generation must not pair with the prompt's example opening tag.
        let prompt = "System: call tools like <python>print(1)</python> or <search>q</search>.\nUser: 2+2?\nAssistant: ";
        let generated = "Let me compute.\nprint(2+2)</python>";
        let full = format!("{prompt}{generated}");
        let call = detect_call_at_end_in(&full, prompt.len(), &tags()).expect("call");
        assert_eq!(call.content, "Let me compute.\nprint(2+2)");
        assert!(!call.open_tag_found);
        assert!(call.span.start >= prompt.len());
        // A generation that closes nothing is not a call even though the prompt holds one.
        assert!(
            detect_call_at_end_in(&format!("{prompt}The answer is 4."), prompt.len(), &tags())
                .is_none()
        );
        // And an example call ending the prompt is not a call of the empty generation.
        assert!(
            detect_call_at_end_in(prompt.trim_end(), prompt.trim_end().len(), &tags()).is_none()
        );
    }

    #[test]
    fn generation_start_inside_a_character_is_clamped() {
        let full = "é<python>1</python>";
        let call = detect_call_at_end_in(full, 1, &tags()).expect("call");
        assert_eq!(call.content, "1");
        assert!(detect_call_at_end_in(full, 999, &tags()).is_none());
    }

    #[test]
    fn unicode_content_is_preserved() {
        let text = "<search>Zürich 東京 🚀 population</search>";
        assert_eq!(
            detect_call_at_end(text, &tags()).expect("call").content,
            "Zürich 東京 🚀 population"
        );
    }

    #[test]
    fn first_call_picks_the_earliest_closing_tag() {
        let text = "<search>a</search> then <python>b</python>";
        let call = first_call(text, &tags()).expect("call");
        assert_eq!((call.tool.as_str(), call.content.as_str()), ("search", "a"));
        assert_eq!(&text[call.span.end..], " then <python>b</python>");
    }

    #[test]
    fn configurable_tags() {
        let set = TagSet::new(["code", "", "bad tag", "code", "lookup"]);
        assert_eq!(set.names().collect::<Vec<_>>(), ["code", "lookup"]);
        assert_eq!(set.stop_sequences(), ["</code>", "</lookup>"]);
        assert_eq!(
            detect_call_at_end("<lookup>x</lookup>", &set)
                .expect("call")
                .tool,
            "lookup"
        );
        assert!(detect_call_at_end("<python>x</python>", &set).is_none());
    }

    #[test]
    fn result_format_matches_the_reference() {
        assert_eq!(format_result("42"), " <result>\n42\n</result>");
        assert_eq!(format_result(""), " <result>\n\n</result>");
    }
}
