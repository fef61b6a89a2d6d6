//! The offline replay cache in the reference `search_cache.json` format: one JSON object mapping
//! each query string to the result text the search returned (`Page 1: …\nPage 2: …`).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Query → cached result text. Lookup is exact first, then on a normalised key (trimmed,
/// lower-cased, inner whitespace collapsed) so that `" Capital of  France"` finds
/// `"capital of France"`; an exact key always wins.
#[derive(Debug, Clone, Default)]
pub struct ReplayCache {
    exact: HashMap<String, String>,
    normalized: HashMap<String, String>,
}

impl ReplayCache {
    /// Loads a `search_cache.json` file. Errors name the file and, for a non-string value, the
    /// key.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::parse(path.display().to_string(), e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::parse(
                path.display().to_string(),
                "expected a JSON object {query: result text}",
            ));
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            match value {
                serde_json::Value::String(text) => entries.push((key, text)),
                other => {
                    return Err(Error::parse(
                        format!("{}: key {key:?}", path.display()),
                        format!("expected a string result, found {}", json_kind(&other)),
                    ))
                }
            }
        }
        Ok(Self::from_entries(entries))
    }

    /// Builds a cache from `(query, result text)` pairs; for duplicate keys the last one wins,
    /// for keys that normalise alike the first one is the normalised fallback.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut cache = Self::default();
        for (query, text) in entries {
            cache
                .normalized
                .entry(normalize(&query))
                .or_insert_with(|| text.clone());
            cache.exact.insert(query, text);
        }
        cache
    }

    /// The cached result text for `query`, if any.
    pub fn get(&self, query: &str) -> Option<&str> {
        self.exact
            .get(query)
            .or_else(|| self.exact.get(query.trim()))
            .or_else(|| self.normalized.get(&normalize(query)))
            .map(String::as_str)
    }

    /// Number of cached queries.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// All `(query, text)` entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.exact.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Lower-cased, trimmed, inner whitespace collapsed to single spaces.
pub(crate) fn normalize(query: &str) -> String {
    query
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wins_then_normalised_fallback() {
        let cache = ReplayCache::from_entries([
            ("capital of France".to_string(), "A".to_string()),
            ("Capital of France".to_string(), "B".to_string()),
        ]);
        assert_eq!(cache.get("Capital of France"), Some("B"));
        assert_eq!(cache.get("capital of France"), Some("A"));
        assert_eq!(cache.get("  Capital of France \n"), Some("B"));
        assert!(cache.get("CAPITAL   of france").is_some());
        assert_eq!(cache.get("capital of Spain"), None);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn load_rejects_non_string_values_with_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cache.json");
        std::fs::write(&path, r#"{"q1": "Page 1: x", "q2": ["list"]}"#).expect("write");
        let err = ReplayCache::load(&path).expect_err("must fail").to_string();
        assert!(err.contains("q2") && err.contains("an array"), "{err}");
    }
}
