//! The JSON-lines loader shared by every evaluation benchmark: each benchmark differs only in the
//! field names of its rows and the format of its gold answer, described by a [`RowLayout`].

use std::path::Path;

use arpo_core::{Domain, Task};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// How the gold answer is written in the answer field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoldFormat {
    /// The field is the answer: a string, a number, or a list of aliases (strings or numbers).
    Verbatim,
    /// A worked solution ending in `#### N` (GSM8K): the gold is `N` with thousands commas removed.
    AfterHashes,
}

/// Where the question, gold answer and id of a row are; each list names the accepted field names
/// in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowLayout {
    /// Field names of the question text.
    pub question: &'static [&'static str],
    /// Field names of the gold answer.
    pub answer: &'static [&'static str],
    /// Field names of the row id; when none is present the 0-based item index is the id.
    pub id: &'static [&'static str],
    /// Format of the gold answer.
    pub gold: GoldFormat,
}

/// Loads a JSON-lines file (one object per line, blank lines skipped) into tasks of `benchmark`.
///
/// Errors name the file, the 1-based line and the field at fault.
pub fn load_jsonl(
    path: &Path,
    benchmark: &str,
    domain: Domain,
    layout: &RowLayout,
) -> Result<Vec<Task>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut tasks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::Line {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let Value::Object(row) = value else {
            return Err(bad(format!("expected a JSON object, got {}", kind(&value))));
        };
        let task = parse_row(&row, tasks.len(), benchmark, domain, layout).map_err(bad)?;
        tasks.push(task);
    }
    tracing::debug!(path = %path.display(), benchmark, count = tasks.len(), "loaded benchmark");
    Ok(tasks)
}

fn parse_row(
    row: &Map<String, Value>,
    index: usize,
    benchmark: &str,
    domain: Domain,
    layout: &RowLayout,
) -> Result<Task, String> {
    let (qname, qvalue) = field(row, layout.question)?;
    let question = match qvalue {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        Value::String(_) => return Err(format!("field `{qname}`: empty")),
        other => {
            return Err(format!(
                "field `{qname}`: expected a string, got {}",
                kind(other)
            ))
        }
    };
    let (aname, avalue) = field(row, layout.answer)?;
    let answers = match layout.gold {
        GoldFormat::Verbatim => aliases(avalue),
        GoldFormat::AfterHashes => after_hashes(avalue),
    }
    .map_err(|m| format!("field `{aname}`: {m}"))?;
    let id = match layout.id.iter().find_map(|k| row.get(*k).map(|v| (*k, v))) {
        None | Some((_, Value::Null)) => index.to_string(),
        Some((_, Value::String(s))) => s.clone(),
        Some((_, Value::Number(n))) => n.to_string(),
        Some((k, other)) => {
            return Err(format!(
                "field `{k}`: expected a string or number, got {}",
                kind(other)
            ))
        }
    };
    Ok(Task::new(id, benchmark, domain, question, answers))
}

/// The first present field among `names`, or an error naming them.
fn field<'a>(
    row: &'a Map<String, Value>,
    names: &[&'a str],
) -> Result<(&'a str, &'a Value), String> {
    names
        .iter()
        .find_map(|k| row.get(*k).map(|v| (*k, v)))
        .ok_or_else(|| match names {
            [only] => format!("missing field `{only}`"),
            _ => format!(
                "missing field `{}` (also tried {})",
                names[0],
                quoted(&names[1..])
            ),
        })
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string, a number or a list of them, as a non-empty list of strings.
fn aliases(value: &Value) -> Result<Vec<String>, String> {
    let out = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(j, v)| {
                scalar(v).ok_or_else(|| {
                    format!("item {j}: expected a string or number, got {}", kind(v))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => vec![scalar(other)
            .ok_or_else(|| format!("expected a string, number or list, got {}", kind(other)))?],
    };
    let out: Vec<String> = out.into_iter().filter(|s| !s.trim().is_empty()).collect();
    if out.is_empty() {
        return Err("no non-empty answer".into());
    }
    Ok(out)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// GSM8K gold: the text after the last `####`, trimmed, thousands commas removed.
fn after_hashes(value: &Value) -> Result<Vec<String>, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "expected a string ending in `#### N`, got {}",
            kind(value)
        ));
    };
    let Some(pos) = s.rfind("####") else {
        return Err("no `####` marker before the final answer".into());
    };
    let gold: String = s[pos + 4..].trim().chars().filter(|c| *c != ',').collect();
    if gold.is_empty() {
        return Err("nothing after `####`".into());
    }
    Ok(vec![gold])
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
