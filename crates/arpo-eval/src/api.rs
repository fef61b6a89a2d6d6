//! A small client for OpenAI-compatible HTTP endpoints, shared by the LLM judge and the
//! completions agent: bearer key from the environment, a per-request timeout, and retries with
//! doubling waits on transport errors, 429, 5xx and malformed replies; other 4xx fail at once
//! (a wrong model name or key does not get better by asking again).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where and how to reach an OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// Base URL of the API (`http://localhost:8000/v1`), or the full URL of the route.
    pub url: String,
    /// Model name sent in each request.
    pub model: String,
    /// Environment variable holding the API key (sent as a bearer token); unset or empty: no key.
    pub api_key_env: String,
    /// Limit for one request, connection included.
    pub timeout: Duration,
    /// Attempts before giving up (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
}

impl EndpointConfig {
    /// A config with the defaults: key from `OPENAI_API_KEY`, 60 s timeout, 3 attempts, 1 s backoff.
    pub fn new(url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            model: model.into(),
            api_key_env: "OPENAI_API_KEY".into(),
            timeout: Duration::from_secs(60),
            max_attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }

    /// The full URL of `route` (`/chat/completions`): the URL itself when it already ends so.
    pub fn endpoint(&self, route: &str) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with(route) {
            base.to_string()
        } else {
            format!("{base}{route}")
        }
    }

    /// A client for `route` under this config.
    pub(crate) fn client(&self, route: &str) -> Result<ApiClient, String> {
        ApiClient::new(
            self.endpoint(route),
            &self.api_key_env,
            self.timeout,
            self.max_attempts,
            self.backoff,
        )
    }
}

/// One endpoint with its key and retry policy.
#[derive(Debug, Clone)]
pub(crate) struct ApiClient {
    endpoint: String,
    key: Option<String>,
    http: reqwest::Client,
    max_attempts: u32,
    backoff: Duration,
}

/// Whether a failed attempt is worth repeating.
enum Failure {
    Retry(String),
    Fatal(String),
}

impl ApiClient {
    /// A client for `endpoint`; the key is read from `api_key_env` now (unset or empty: none).
    pub(crate) fn new(
        endpoint: String,
        api_key_env: &str,
        timeout: Duration,
        max_attempts: u32,
        backoff: Duration,
    ) -> Result<Self, String> {
        if max_attempts == 0 {
            return Err(format!("{endpoint}: max_attempts must be at least 1"));
        }
        let key = std::env::var(api_key_env).ok().filter(|k| !k.is_empty());
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Self {
            endpoint,
            key,
            http,
            max_attempts,
            backoff,
        })
    }

    /// The full URL requests go to.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Posts `body` and reads the reply text with `parse` (an `Err` from it counts as a
    /// malformed reply and is retried). The error message names the endpoint.
    pub(crate) async fn post<T>(
        &self,
        body: &serde_json::Value,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            match self.attempt(body, &parse).await {
                Ok(reply) => return Ok(reply),
                Err(Failure::Fatal(m)) => return Err(format!("{}: {m}", self.endpoint)),
                Err(Failure::Retry(m)) => {
                    tracing::warn!(endpoint = %self.endpoint, attempt, error = %m, "request failed");
                    last = m;
                }
            }
            if attempt < self.max_attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        Err(format!(
            "{}: gave up after {} attempts: {last}",
            self.endpoint, self.max_attempts
        ))
    }

    async fn attempt<T>(
        &self,
        body: &serde_json::Value,
        parse: &impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, Failure> {
        let mut req = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Retry(format!("request: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| Failure::Retry(format!("reading the reply: {e}")))?;
        let snippet: String = text.chars().take(200).collect();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Failure::Retry(format!("HTTP {status}: {snippet}")));
        }
        if !status.is_success() {
            return Err(Failure::Fatal(format!("HTTP {status}: {snippet}")));
        }
        parse(&text).map_err(|m| Failure::Retry(format!("{m}: {snippet}")))
    }
}
