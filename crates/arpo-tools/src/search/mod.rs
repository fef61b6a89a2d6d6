//! `SearchTool`: one tool type over three backends — a local BM25 index, an offline replay cache
//! in the reference `search_cache.json` format (consulted first when present), and an HTTP
//! retriever — with results formatted as in the reference (`Page i: …` lines).

mod bm25;
mod cache;
pub mod corpus;
mod http;

use std::sync::Arc;

use arpo_core::{Tool, ToolError};
use async_trait::async_trait;

pub use bm25::Bm25Index;
pub use cache::ReplayCache;
pub use http::{HttpRetriever, HttpRetrieverConfig};

use crate::error::{Error, Result};

/// One retrieved document.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Document id.
    pub id: String,
    /// Document title.
    pub title: String,
    /// The text shown to the model (a query-focused snippet, or the retriever's text).
    pub snippet: String,
    /// Backend score (BM25 for the local index).
    pub score: f32,
}

/// How each result line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageFormat {
    /// `Page i: <snippet>`, exactly the reference web-search format.
    Snippet,
    /// `Page i: <title>: <snippet>`; the default, since a Wikipedia snippet taken from the middle
    /// of an article often does not name its subject.
    #[default]
    TitleAndSnippet,
}

/// The retrieval backend behind the cache.
#[derive(Debug, Clone)]
pub enum SearchBackend {
    /// A local tantivy BM25 index.
    Bm25(Bm25Index),
    /// A Search-R1-style HTTP retriever.
    Http(HttpRetriever),
    /// No backend: only cached queries are answered (offline replay).
    CacheOnly,
}

/// Settings of [`SearchTool`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    /// Tag name of the tool (`search`).
    pub name: String,
    /// Results per query.
    pub top_k: usize,
    /// Snippet length limit in characters (the HTTP backend's texts are cut to it too).
    pub snippet_chars: usize,
    /// Line format.
    pub page_format: PageFormat,
}

impl Default for SearchConfig {
    fn default() -> Self {
        // The reference web search returns up to 10 pages; 5 keeps a 4096-token budget usable.
        Self {
            name: "search".into(),
            top_k: 5,
            snippet_chars: 300,
            page_format: PageFormat::default(),
        }
    }
}

/// The search tool.
#[derive(Debug, Clone)]
pub struct SearchTool {
    config: SearchConfig,
    cache: Option<Arc<ReplayCache>>,
    backend: SearchBackend,
}

/// Answer to a query when nothing matched.
pub const NO_RESULTS: &str = "No search results found.";

impl SearchTool {
    /// Builds the tool. A cache, when given, is consulted before the backend. Fails on a zero
    /// `top_k`/`snippet_chars` or on `CacheOnly` without a cache.
    pub fn new(
        config: SearchConfig,
        cache: Option<ReplayCache>,
        backend: SearchBackend,
    ) -> Result<Self> {
        if config.top_k == 0 || config.snippet_chars == 0 {
            return Err(Error::Config(
                "search: top_k and snippet_chars must be > 0".into(),
            ));
        }
        if matches!(backend, SearchBackend::CacheOnly) && cache.is_none() {
            return Err(Error::Config(
                "search: CacheOnly backend needs a replay cache".into(),
            ));
        }
        Ok(Self {
            config,
            cache: cache.map(Arc::new),
            backend,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// The replay cache, if any.
    pub fn cache(&self) -> Option<&ReplayCache> {
        self.cache.as_deref()
    }

    /// Answers `query`: the cached text when the cache has it, else the backend's hits formatted
    /// as `Page i:` lines ([`NO_RESULTS`] when nothing matched).
    pub async fn search(&self, query: &str) -> Result<String, ToolError> {
        let query = query.trim();
        if let Some(text) = self.cache.as_deref().and_then(|c| c.get(query)) {
            return Ok(text.to_string());
        }
        let hits = self.retrieve(query).await?;
        Ok(format_pages(
            &hits,
            self.config.page_format,
            self.config.snippet_chars,
        ))
    }

    /// The backend's hits for `query`, bypassing the cache.
    pub async fn retrieve(&self, query: &str) -> Result<Vec<Hit>, ToolError> {
        let (k, chars) = (self.config.top_k, self.config.snippet_chars);
        let query = query.to_string();
        match &self.backend {
            SearchBackend::Bm25(index) => {
                let index = index.clone();
                tokio::task::spawn_blocking(move || index.search(&query, k, chars))
                    .await
                    .map_err(|e| ToolError::Failed(format!("search task: {e}")))?
                    .map_err(|e| ToolError::Failed(e.to_string()))
            }
            SearchBackend::Http(client) => client.retrieve(&query, k).await,
            SearchBackend::CacheOnly => Err(ToolError::Failed(format!(
                "query not in the replay cache (offline mode): {query:?}"
            ))),
        }
    }
}

/// Formats hits as the reference does: one `Page i: …` line per hit (1-based), newlines inside a
/// snippet flattened to spaces, snippets cut to `snippet_chars` at a word boundary.
pub fn format_pages(hits: &[Hit], format: PageFormat, snippet_chars: usize) -> String {
    if hits.is_empty() {
        return NO_RESULTS.to_string();
    }
    let lines: Vec<String> = hits
        .iter()
        .enumerate()
        .map(|(i, hit)| {
            let snippet = bm25::lead(&one_line(&hit.snippet), snippet_chars);
            match format {
                PageFormat::Snippet => format!("Page {}: {snippet}", i + 1),
                PageFormat::TitleAndSnippet => {
                    format!("Page {}: {}: {snippet}", i + 1, one_line(&hit.title))
                }
            }
        })
        .collect();
    lines.join("\n")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[async_trait]
impl Tool for SearchTool {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn call(&self, input: &str) -> Result<String, ToolError> {
        self.search(input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(title: &str, snippet: &str) -> Hit {
        Hit {
            id: title.into(),
            title: title.into(),
            snippet: snippet.into(),
            score: 1.0,
        }
    }

    #[test]
    fn page_lines() {
        let hits = [hit("Paris", "Paris is\nthe capital."), hit("Lyon", "Lyon.")];
        assert_eq!(
            format_pages(&hits, PageFormat::Snippet, 100),
            "Page 1: Paris is the capital.\nPage 2: Lyon."
        );
        assert_eq!(
            format_pages(&hits, PageFormat::TitleAndSnippet, 100),
            "Page 1: Paris: Paris is the capital.\nPage 2: Lyon: Lyon."
        );
        assert_eq!(
            format_pages(&hits[..1], PageFormat::Snippet, 8),
            "Page 1: Paris is …"
        );
        assert_eq!(format_pages(&[], PageFormat::Snippet, 8), NO_RESULTS);
    }

    #[tokio::test]
    async fn cache_first_then_backend() {
        let index = Bm25Index::build_in_ram([corpus::Document {
            id: "1".into(),
            title: "Paris".into(),
            text: "Paris is the capital of France.".into(),
        }])
        .expect("index");
        let cache = ReplayCache::from_entries([(
            "capital of France".to_string(),
            "Page 1: cached".to_string(),
        )]);
        let tool = SearchTool::new(
            SearchConfig::default(),
            Some(cache),
            SearchBackend::Bm25(index),
        )
        .expect("tool");
        assert_eq!(
            tool.call(" capital of France ").await.expect("cached"),
            "Page 1: cached"
        );
        assert_eq!(
            tool.call("Paris").await.expect("bm25"),
            "Page 1: Paris: Paris is the capital of France."
        );
        let offline = SearchTool::new(
            SearchConfig::default(),
            Some(ReplayCache::from_entries([(
                "q".to_string(),
                "t".to_string(),
            )])),
            SearchBackend::CacheOnly,
        )
        .expect("tool");
        assert!(matches!(
            offline.call("other").await,
            Err(ToolError::Failed(_))
        ));
        assert!(SearchTool::new(SearchConfig::default(), None, SearchBackend::CacheOnly).is_err());
    }
}
