//! The reference format gate (`validate_format` of ARPO's `deep_research.py`): a response earns
//! −1 unless it has balanced `<think>` pairs, exactly one `<answer>…</answer>`, every tool call
//! closed and followed by its `<result>…</result>`, and a `\boxed{` inside the answer.

use serde::{Deserialize, Serialize};

/// Tag names of the tools and of their results in the response text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolTags {
    /// Tag of the code tool (`python` → `<python>…</python>`).
    pub code: String,
    /// Tag of the search tool (`search`).
    pub search: String,
    /// Tag that wraps a tool's output (`result`).
    pub result: String,
}

impl Default for ToolTags {
    fn default() -> Self {
        Self {
            code: "python".into(),
            search: "search".into(),
            result: "result".into(),
        }
    }
}

impl ToolTags {
    /// Number of completed calls (`<tag>…</tag>`) of `tag` in `text`.
    pub fn count_calls(text: &str, tag: &str) -> usize {
        text.matches(&format!("</{tag}>")).count()
    }
}

/// Why a response fails the format gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FormatError {
    /// `<think>` and `</think>` counts differ.
    #[error("<think> </think> not paired")]
    ThinkUnpaired,
    /// No `<think>` block at all.
    #[error("<think> or </think> not found")]
    NoThink,
    /// Not exactly one `<answer>` and one `</answer>`.
    #[error("<answer> or </answer> not found exactly once")]
    AnswerCount,
    /// A tool call lacks its closing tag or its result.
    #[error("{0}/result tags are incomplete")]
    ToolIncomplete(String),
    /// A tool call and its result are out of order.
    #[error("{0}/result tags are nested in the wrong order")]
    ToolOrder(String),
    /// `</answer>` comes before `<answer>`.
    #[error("<answer> must be before </answer>")]
    AnswerOrder,
    /// The answer has no `\boxed{…}`.
    #[error("answer is missing \\boxed{{}} format")]
    NoBoxed,
}

/// Checks the reference format; `Ok` when the response may be scored.
pub fn check_format(text: &str, tags: &ToolTags) -> Result<(), FormatError> {
    let opens = text.matches("<think>").count();
    if opens != text.matches("</think>").count() {
        return Err(FormatError::ThinkUnpaired);
    }
    if opens == 0 {
        return Err(FormatError::NoThink);
    }
    if text.matches("<answer>").count() != 1 || text.matches("</answer>").count() != 1 {
        return Err(FormatError::AnswerCount);
    }
    for tool in [&tags.search, &tags.code] {
        check_tool_results(text, tool, &tags.result)?;
    }
    let (Some(start), Some(end)) = (text.find("<answer>"), text.find("</answer>")) else {
        return Err(FormatError::AnswerCount);
    };
    if start > end {
        return Err(FormatError::AnswerOrder);
    }
    let answer = &text[start..end];
    if !answer.contains("\\boxed{") || !answer.contains('}') {
        return Err(FormatError::NoBoxed);
    }
    Ok(())
}

/// Every `<tool>` is followed by `</tool>`, then `<result>`, then `</result>`, in that order.
fn check_tool_results(text: &str, tool: &str, result: &str) -> Result<(), FormatError> {
    let (open, close) = (format!("<{tool}>"), format!("</{tool}>"));
    let (r_open, r_close) = (format!("<{result}>"), format!("</{result}>"));
    let find =
        |pat: &str, from: usize| text.get(from..).and_then(|t| t.find(pat)).map(|p| p + from);
    let mut pos = 0;
    while let Some(call) = find(&open, pos) {
        let (Some(call_end), Some(res), Some(res_end)) = (
            find(&close, call),
            find(&r_open, call),
            find(&r_open, call).and_then(|r| find(&r_close, r)),
        ) else {
            return Err(FormatError::ToolIncomplete(tool.to_string()));
        };
        if !(call < call_end && call_end < res && res < res_end) {
            return Err(FormatError::ToolOrder(tool.to_string()));
        }
        pos = res_end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_cases() {
        let t = ToolTags::default();
        let ok = r"<think>a</think><search>q</search><result>r</result><think>b</think><answer>\boxed{x}</answer>";
        assert_eq!(check_format(ok, &t), Ok(()));
        assert_eq!(
            check_format(r"<answer>\boxed{x}</answer>", &t),
            Err(FormatError::NoThink)
        );
        assert_eq!(
            check_format(r"<think><think></think><answer>\boxed{x}</answer>", &t),
            Err(FormatError::ThinkUnpaired)
        );
        assert_eq!(
            check_format("<think></think><answer>x</answer>", &t),
            Err(FormatError::NoBoxed)
        );
        assert_eq!(
            check_format(
                r"<think></think><python>1</python><answer>\boxed{x}</answer>",
                &t
            ),
            Err(FormatError::ToolIncomplete("python".into()))
        );
        assert_eq!(
            check_format(
                r"<think></think><answer>\boxed{1}</answer><answer>\boxed{2}</answer>",
                &t
            ),
            Err(FormatError::AnswerCount)
        );
        assert_eq!(
            check_format(r"<think></think></answer>\boxed{1}<answer>", &t),
            Err(FormatError::AnswerOrder)
        );
        let custom = ToolTags {
            code: "code".into(),
            search: "web".into(),
            result: "output".into(),
        };
        assert_eq!(
            check_format(
                r"<think></think><code>1</code><output>1</output><answer>\boxed{1}</answer>",
                &custom
            ),
            Ok(())
        );
    }
}
