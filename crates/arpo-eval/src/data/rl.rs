//! The RL training files in verl's parquet layout (`prompt`, `reward_model.ground_truth`,
//! `data_source`, `ability`, `extra_info`), read row by row without arrow.
//!
//! The reference files were written from JSON in which `\b` (of `\boxed`) was read as the JSON
//! escape for backspace, so they hold U+0008 + `oxed`; likewise `\f` of `\frac` became a form feed
//! in a few questions. [`repair_escape_defects`] undoes both on load.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use arpo_core::{ChatMessage, Domain, Role, Task};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};

use crate::{Error, Result};

/// The reference RL data files, with their file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RlData {
    /// 10k mixed training questions (5k math, 5k multi-hop QA).
    Train10k,
    /// 180 validation questions.
    Valid,
    /// 1,071 deep-search training questions.
    HardSearch1k,
}

impl RlData {
    /// Every RL file.
    pub const ALL: [RlData; 3] = [RlData::Train10k, RlData::Valid, RlData::HardSearch1k];

    /// File name in the reference data folder.
    pub const fn file_name(self) -> &'static str {
        match self {
            RlData::Train10k => "train_10k.parquet",
            RlData::Valid => "valid.parquet",
            RlData::HardSearch1k => "hard_search_1k.parquet",
        }
    }

    /// The default path below a data folder.
    pub fn default_path(self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }

    /// Loads the file at `path`.
    pub fn load(self, path: &Path) -> Result<Vec<Task>> {
        load_verl_parquet(path)
    }
}

/// Undoes the JSON-escape damage of the reference files: every U+0008 (backspace) was `\b`, and
/// U+000C (form feed) followed by `rac` was `\frac`. Other form feeds (PDF ligature debris such
/// as "\u{c}finds") are left alone.
pub fn repair_escape_defects(s: &str) -> Cow<'_, str> {
    if !s.contains(['\u{8}', '\u{c}']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace('\u{8}', "\\b").replace("\u{c}rac", "\\frac"))
}

/// Loads a verl-layout parquet file: one task per row, `id` = `extra_info.index` (else the row
/// index), `benchmark` = `data_source`, `domain` from `ability` (`math` → math, `qa` → knowledge,
/// absent → deep search), `question` = `extra_info.question` (else the last user message),
/// `prompt` = the `prompt` messages, `answers` = `[reward_model.ground_truth]` (empty, with a
/// warning, when the ground truth is blank: the rewards then score the task 0).
pub fn load_verl_parquet(path: &Path) -> Result<Vec<Task>> {
    let parquet_err = |source| Error::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(parquet_err)?;
    let mut tasks = Vec::with_capacity(
        usize::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0),
    );
    for (i, row) in reader.get_row_iter(None).map_err(parquet_err)?.enumerate() {
        let row = row.map_err(parquet_err)?;
        let task = parse_row(&row, i).map_err(|message| Error::Row {
            path: path.to_path_buf(),
            row: i,
            message,
        })?;
        if task.answers.is_empty() {
            tracing::warn!(path = %path.display(), row = i, "blank `reward_model.ground_truth`: task has no answers");
        }
        tasks.push(task);
    }
    tracing::debug!(path = %path.display(), count = tasks.len(), "loaded RL parquet");
    Ok(tasks)
}

fn parse_row(row: &Row, index: usize) -> Result<Task, String> {
    let data_source = string(row, "data_source")?;
    let domain = match get(row, "ability") {
        None | Some(Field::Null) => Domain::DeepSearch,
        Some(Field::Str(a)) if a == "math" => Domain::Math,
        Some(Field::Str(a)) if a == "qa" => Domain::Knowledge,
        Some(Field::Str(_)) => Domain::DeepSearch,
        Some(other) => {
            return Err(format!(
                "field `ability`: expected a string, got {}",
                type_name(other)
            ))
        }
    };
    let prompt = messages(row)?;
    let reward_model = group(row, "reward_model")?;
    let answers = match get(reward_model, "ground_truth") {
        Some(Field::Str(s)) => vec![repair_escape_defects(s).into_owned()],
        Some(Field::ListInternal(list)) => list
            .elements()
            .iter()
            .map(|f| match f {
                Field::Str(s) => Ok(repair_escape_defects(s).into_owned()),
                other => Err(format!(
                    "field `reward_model.ground_truth`: list of {}",
                    type_name(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "field `reward_model.ground_truth`: expected a string, got {}",
                type_name(other)
            ))
        }
        None => return Err("missing field `reward_model.ground_truth`".into()),
    };
    // One row of train_10k.parquet (a construction problem) has a blank gold; it is kept, with no
    // answers, so that row counts match the file and the caller decides.
    let answers: Vec<String> = answers
        .into_iter()
        .filter(|a| !a.trim().is_empty())
        .collect();
    let extra = match get(row, "extra_info") {
        Some(Field::Group(g)) => Some(g),
        None | Some(Field::Null) => None,
        Some(other) => {
            return Err(format!(
                "field `extra_info`: expected a struct, got {}",
                type_name(other)
            ))
        }
    };
    let id = match extra.and_then(|g| get(g, "index")) {
        Some(Field::Long(n)) => n.to_string(),
        Some(Field::Int(n)) => n.to_string(),
        Some(Field::Str(s)) => s.clone(),
        _ => index.to_string(),
    };
    let question = match extra.and_then(|g| get(g, "question")) {
        Some(Field::Str(q)) => repair_escape_defects(q).into_owned(),
        _ => prompt
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .ok_or("no `extra_info.question` and no user message in `prompt`")?,
    };
    Ok(Task {
        id,
        benchmark: data_source,
        domain,
        question,
        answers,
        prompt: Some(prompt),
    })
}

fn messages(row: &Row) -> Result<Vec<ChatMessage>, String> {
    let Some(Field::ListInternal(list)) = get(row, "prompt") else {
        return Err("field `prompt`: missing or not a list of messages".into());
    };
    list.elements()
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let Field::Group(m) = m else {
                return Err(format!(
                    "field `prompt[{j}]`: expected a {{role, content}} struct"
                ));
            };
            let role = match string(m, "role")
                .map_err(|e| format!("prompt[{j}]: {e}"))?
                .as_str()
            {
                "system" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                other => return Err(format!("field `prompt[{j}].role`: unknown role `{other}`")),
            };
            let content = string(m, "content").map_err(|e| format!("prompt[{j}]: {e}"))?;
            Ok(ChatMessage::new(role, repair_escape_defects(&content)))
        })
        .collect()
}

fn get<'a>(row: &'a Row, name: &str) -> Option<&'a Field> {
    row.get_column_iter()
        .find(|(k, _)| k.as_str() == name)
        .map(|(_, v)| v)
}

fn string(row: &Row, name: &str) -> Result<String, String> {
    match get(row, name) {
        Some(Field::Str(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "field `{name}`: expected a string, got {}",
            type_name(other)
        )),
        None => Err(format!("missing field `{name}`")),
    }
}

fn group<'a>(row: &'a Row, name: &str) -> Result<&'a Row, String> {
    match get(row, name) {
        Some(Field::Group(g)) => Ok(g),
        Some(other) => Err(format!(
            "field `{name}`: expected a struct, got {}",
            type_name(other)
        )),
        None => Err(format!("missing field `{name}`")),
    }
}

fn type_name(field: &Field) -> &'static str {
    match field {
        Field::Null => "null",
        Field::Bool(_) => "a boolean",
        Field::Str(_) => "a string",
        Field::Bytes(_) => "bytes",
        Field::Group(_) => "a struct",
        Field::ListInternal(_) => "a list",
        Field::MapInternal(_) => "a map",
        Field::Float(_) | Field::Double(_) | Field::Float16(_) | Field::Decimal(_) => "a float",
        _ => "an integer or time",
    }
}
