//! The LLM judge: asks any OpenAI-compatible chat-completions endpoint whether a predicted answer
//! is equivalent to the labelled answer, with the reference's Correct/Incorrect prompt (ARPO
//! `evaluation/src/llm_evaluator.py`), per-request timeouts and retries with exponential backoff.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{ApiClient, EndpointConfig};
use crate::{Error, Result};

/// Where and how to ask the judge (its route is `/chat/completions`).
pub type JudgeConfig = EndpointConfig;

/// The judge's route below the base URL.
const ROUTE: &str = "/chat/completions";

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
    api: ApiClient,
}

impl JudgeClient {
    /// Builds the client; the API key is read from the environment now.
    pub fn new(config: JudgeConfig) -> Result<Self> {
        let api = config.client(ROUTE).map_err(Error::Config)?;
        Ok(Self { config, api })
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
        self.api
            .post(&body, |text| {
                let reply: ChatReply =
                    serde_json::from_str(text).map_err(|e| format!("malformed reply ({e})"))?;
                reply
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.message.content)
                    .ok_or_else(|| "reply without choices[0].message.content".to_string())
            })
            .await
            .map_err(Error::Judge)
    }
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
            JudgeConfig::new("http://h:1/v1/", "m").endpoint(ROUTE),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            JudgeConfig::new("http://h:1/v1/chat/completions", "m").endpoint(ROUTE),
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
