//! The LLM judge: asks any OpenAI-compatible chat-completions endpoint whether a predicted answer
//! is equivalent to the labelled answer, with the reference's Correct/Incorrect prompt (ARPO
//! `evaluation/src/llm_evaluator.py`), per-request timeouts and retries with exponential backoff.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Error, Result};

/// Where and how to ask the judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// Base URL of the API (`http://localhost:8000/v1`), or the full `/chat/completions` URL.
    pub url: String,
    /// Model name sent in the request.
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

impl JudgeConfig {
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

    fn endpoint(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        }
    }
}

/// The judge's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The prediction is equivalent to the labelled answer.
    Correct,
    /// It is not.
    Incorrect,
}

/// The reference judge prompt, filled in. Several gold aliases are listed separated by ` / `.
pub fn judge_prompt<S: AsRef<str>>(question: &str, golds: &[S], predicted: &str) -> String {
    let labeled = golds
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(" / ");
    format!(
        "You are an evaluation assistant. Please determine if the model output is equivalent to the labeled answer.\n\n\
         Question: {question}\n\n\
         Labeled Answer: {labeled}\n\n\
         Model Output (Last few lines): {predicted}\n\n\
         Did the model give an answer equivalent to the labeled answer? Please respond with \"Correct\" if they are \
         equivalent, or \"Incorrect\" if they are not equivalent. Do not include any other text.\n"
    )
}

/// Reads a reply as the reference does: the text of `<judgment>…</judgment>` if present, else the
/// whole reply; correct when it says "correct" and none of "incorrect", "wrong", "not correct".
pub fn parse_verdict(reply: &str) -> Verdict {
    let text = match (reply.find("<judgment>"), reply.find("</judgment>")) {
        (Some(s), Some(e)) if s + "<judgment>".len() <= e => &reply[s + "<judgment>".len()..e],
        _ => reply,
    };
    let t = text.trim().to_lowercase();
    let negative = t.contains("incorrect") || t.contains("wrong") || t.contains("not correct");
    if t.contains("correct") && !negative {
        Verdict::Correct
    } else {
        Verdict::Incorrect
    }
}

/// A client for one judge endpoint.
#[derive(Debug, Clone)]
pub struct JudgeClient {
    config: JudgeConfig,
    endpoint: String,
    key: Option<String>,
    http: reqwest::Client,
}

/// Whether a failed attempt is worth repeating.
enum Failure {
    Retry(String),
    Fatal(String),
}

impl JudgeClient {
    /// Builds the client; the API key is read from the environment now.
    pub fn new(config: JudgeConfig) -> Result<Self> {
        if config.max_attempts == 0 {
            return Err(Error::Config(
                "judge max_attempts must be at least 1".into(),
            ));
        }
        let key = std::env::var(&config.api_key_env)
            .ok()
            .filter(|k| !k.is_empty());
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| Error::Judge(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            endpoint: config.endpoint(),
            config,
            key,
            http,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &JudgeConfig {
        &self.config
    }

    /// Asks whether `predicted` answers `question` like `golds`.
    pub async fn judge<S: AsRef<str>>(
        &self,
        question: &str,
        golds: &[S],
        predicted: &str,
    ) -> Result<Verdict> {
        let reply = self.ask(&judge_prompt(question, golds, predicted)).await?;
        Ok(parse_verdict(&reply))
    }

    /// Sends one user message and returns the reply text, retrying transient failures.
    pub async fn ask(&self, prompt: &str) -> Result<String> {
        let body = json!({
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
        });
        let mut wait = self.config.backoff;
        let mut last = String::new();
        for attempt in 1..=self.config.max_attempts {
            match self.attempt(&body).await {
                Ok(reply) => return Ok(reply),
                Err(Failure::Fatal(m)) => {
                    return Err(Error::Judge(format!("{}: {m}", self.endpoint)))
                }
                Err(Failure::Retry(m)) => {
                    tracing::warn!(endpoint = %self.endpoint, attempt, error = %m, "judge request failed");
                    last = m;
                }
            }
            if attempt < self.config.max_attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        Err(Error::Judge(format!(
            "{}: gave up after {} attempts: {last}",
            self.endpoint, self.config.max_attempts
        )))
    }

    async fn attempt(&self, body: &serde_json::Value) -> std::result::Result<String, Failure> {
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
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Failure::Retry(format!("HTTP {status}: {}", snippet(&text))));
        }
        if !status.is_success() {
            return Err(Failure::Fatal(format!("HTTP {status}: {}", snippet(&text))));
        }
        let reply: ChatReply = serde_json::from_str(&text)
            .map_err(|e| Failure::Retry(format!("malformed reply ({e}): {}", snippet(&text))))?;
        reply
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| {
                Failure::Retry(format!(
                    "reply without choices[0].message.content: {}",
                    snippet(&text)
                ))
            })
    }
}

fn snippet(s: &str) -> String {
    s.chars().take(200).collect()
}

#[derive(Deserialize)]
struct ChatReply {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_rules() {
        assert_eq!(parse_verdict("Correct"), Verdict::Correct);
        assert_eq!(parse_verdict(" correct.\n"), Verdict::Correct);
        assert_eq!(parse_verdict("Incorrect"), Verdict::Incorrect);
        assert_eq!(parse_verdict("Not correct"), Verdict::Incorrect);
        assert_eq!(
            parse_verdict("<judgment>Correct</judgment> but the wording is wrong"),
            Verdict::Correct
        );
        assert_eq!(parse_verdict("I cannot tell"), Verdict::Incorrect);
    }

    #[test]
    fn endpoint_and_prompt() {
        assert_eq!(
            JudgeConfig::new("http://h:1/v1/", "m").endpoint(),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            JudgeConfig::new("http://h:1/v1/chat/completions", "m").endpoint(),
            "http://h:1/v1/chat/completions"
        );
        let p = judge_prompt("Q?", &["a", "b"], "c");
        assert!(
            p.contains("Question: Q?")
                && p.contains("Labeled Answer: a / b")
                && p.contains("(Last few lines): c")
        );
    }
}
