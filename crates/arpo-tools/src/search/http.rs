//! Client of a user-run retriever with the Search-R1 API:
//! `POST {url}` with `{"queries": [q], "topk": k, "return_scores": true}` answered by
//! `{"result": [[{"document": {"id", "contents"}, "score"}, …]]}` (or, without scores,
//! `{"result": [[{"id", "contents"}, …]]}`), where `contents` is `"Title"\ntext`.
//!
//! Each attempt has a timeout; connection errors, timeouts and 5xx answers are retried with a
//! doubling back-off, 4xx answers are not (the request itself is wrong).

use std::time::Duration;

use arpo_core::ToolError;
use serde_json::{json, Value};

use super::Hit;
use crate::error::{Error, Result};

/// Settings of [`HttpRetriever`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRetrieverConfig {
    /// Full endpoint URL, e.g. `http://127.0.0.1:8000/retrieve`.
    pub url: String,
    /// Time limit of one attempt (connect + request + response).
    pub timeout: Duration,
    /// Extra attempts after the first.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl HttpRetrieverConfig {
    /// Defaults for `url`: 10 s per attempt, 2 retries, 200 ms back-off.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(200),
        }
    }
}

/// A Search-R1-style retriever client (cheap to clone: the connection pool is shared).
#[derive(Debug, Clone)]
pub struct HttpRetriever {
    config: HttpRetrieverConfig,
    client: reqwest::Client,
}

/// Why one attempt failed, and whether another attempt may help.
enum Attempt {
    Retry(String),
    TimedOut,
    Fatal(ToolError),
}

impl HttpRetriever {
    /// Checks the URL (`http://` or `https://`) and builds the client. No proxy is used: the
    /// retriever is the user's own service.
    pub fn new(config: HttpRetrieverConfig) -> Result<Self> {
        if !(config.url.starts_with("http://") || config.url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "retriever url {:?} must start with http:// or https://",
                config.url
            )));
        }
        if config.timeout.is_zero() {
            return Err(Error::Config("retriever timeout must be > 0".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::Config(format!("retriever client: {e}")))?;
        Ok(Self { config, client })
    }

    /// The settings in use.
    pub fn config(&self) -> &HttpRetrieverConfig {
        &self.config
    }

    /// Retrieves the `top_k` documents for `query`.
    pub async fn retrieve(&self, query: &str, top_k: usize) -> Result<Vec<Hit>, ToolError> {
        let body = json!({ "queries": [query], "topk": top_k, "return_scores": true });
        let mut wait = self.config.backoff;
        let mut last_error = String::new();
        let mut timed_out = false;
        for attempt in 0..=self.config.retries {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            match self.attempt(&body, top_k).await {
                Ok(hits) => return Ok(hits),
                Err(Attempt::Fatal(err)) => return Err(err),
                Err(Attempt::TimedOut) => {
                    timed_out = true;
                    last_error = format!(
                        "no answer within {:.1} s",
                        self.config.timeout.as_secs_f64()
                    );
                }
                Err(Attempt::Retry(why)) => {
                    timed_out = false;
                    last_error = why;
                }
            }
            tracing::debug!(attempt, error = %last_error, "retriever attempt failed");
        }
        if timed_out {
            return Err(ToolError::Timeout(self.config.timeout));
        }
        let attempts = self.config.retries + 1;
        Err(ToolError::Failed(format!(
            "retriever unreachable after {attempts} attempts: {last_error}"
        )))
    }

    async fn attempt(&self, body: &Value, top_k: usize) -> Result<Vec<Hit>, Attempt> {
        let response = self
            .client
            .post(&self.config.url)
            .json(body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let text = response.text().await.map_err(classify)?;
        if status.is_server_error() {
            return Err(Attempt::Retry(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(Attempt::Fatal(ToolError::Failed(format!(
                "retriever answered HTTP {status}: {}",
                excerpt(&text)
            ))));
        }
        parse_response(&text, top_k).map_err(Attempt::Fatal)
    }
}

fn classify(err: reqwest::Error) -> Attempt {
    if err.is_timeout() {
        Attempt::TimedOut
    } else {
        Attempt::Retry(err.to_string())
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Parses a Search-R1 `/retrieve` answer for one query.
pub(crate) fn parse_response(text: &str, top_k: usize) -> Result<Vec<Hit>, ToolError> {
    let bad = |why: &str| ToolError::Failed(format!("retriever answer: {why}: {}", excerpt(text)));
    let value: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let first = value
        .get("result")
        .and_then(|r| r.get(0))
        .ok_or_else(|| bad("no result[0]"))?;
    let items = first
        .as_array()
        .ok_or_else(|| bad("result[0] is not a list"))?;
    let mut hits = Vec::with_capacity(items.len().min(top_k));
    for item in items.iter().take(top_k) {
        let (doc, score) = match item.get("document") {
            Some(doc) => (
                doc,
                item.get("score").and_then(Value::as_f64).unwrap_or(0.0),
            ),
            None => (item, 0.0),
        };
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
        let (title, body) = match (field("title"), field("text")) {
            (Some(title), Some(text)) => (title, text),
            _ => split_contents(
                &field("contents")
                    .or_else(|| field("contents_text"))
                    .unwrap_or_default(),
            ),
        };
        let id = doc
            .get("id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default();
        hits.push(Hit {
            id,
            title,
            snippet: body,
            score: score as f32,
        });
    }
    Ok(hits)
}

/// Search-R1 `contents`: first line is the title (often in quotes), the rest the text.
fn split_contents(contents: &str) -> (String, String) {
    let (title, text) = contents.split_once('\n').unwrap_or(("", contents));
    (
        title.trim().trim_matches('"').to_string(),
        text.trim().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scored_and_unscored_answers() {
        let scored = r#"{"result": [[{"document": {"id": "7", "contents": "\"Paris\"\nParis is the capital."}, "score": 12.5},
                                      {"document": {"id": "8", "contents": "\"Lyon\"\nLyon is a city."}, "score": 3.0}]]}"#;
        let hits = parse_response(scored, 1).expect("parse");
        assert_eq!(hits.len(), 1);
        assert_eq!(
            (hits[0].id.as_str(), hits[0].title.as_str()),
            ("7", "Paris")
        );
        assert_eq!(hits[0].snippet, "Paris is the capital.");
        assert_eq!(hits[0].score, 12.5);
        let unscored = r#"{"result": [[{"id": 3, "title": "T", "text": "body"}]]}"#;
        let hits = parse_response(unscored, 5).expect("parse");
        assert_eq!(
            (
                hits[0].id.as_str(),
                hits[0].title.as_str(),
                hits[0].snippet.as_str()
            ),
            ("3", "T", "body")
        );
        assert!(parse_response("{}", 3).is_err());
        assert!(parse_response("not json", 3).is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(
            HttpRetriever::new(HttpRetrieverConfig::new("ftp://example.org/retrieve")).is_err()
        );
        assert!(
            HttpRetriever::new(HttpRetrieverConfig::new("http://127.0.0.1:1/retrieve")).is_ok()
        );
        let zero = HttpRetrieverConfig {
            timeout: Duration::ZERO,
            ..HttpRetrieverConfig::new("http://127.0.0.1:1/")
        };
        assert!(HttpRetriever::new(zero).is_err());
    }
}
