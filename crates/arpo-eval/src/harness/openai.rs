//! An agent backed by an OpenAI-compatible *completions* server (vLLM, SGLang, llama.cpp's
//! server): for evaluating large models that a user already serves, with the same harness, tools
//! and scoring as the in-process policy.
//!
//! The agent loop is the one of docs/arpo.md §1 in text: the prompt is rendered with the model's
//! chat template here (so the server sees exactly the tokens the in-process policy would), the
//! server generates until a closing tool tag or the end, the tool runs, ` <result>…</result>` is
//! appended, and the server continues the same assistant turn. `top_k` and
//! `repetition_penalty` are sent as the vLLM / SGLang extensions of the request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arpo_core::ChatMessage;
use arpo_tools::{ToolRunner, TrajectoryToolState};
use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;

use super::{Agent, Decoding, Trajectory};
use crate::api::{ApiClient, EndpointConfig};
use crate::{Error, Result};

/// Renders a chat prompt into the text the server continues (ending with the opened assistant
/// turn).
pub type PromptRenderer = Arc<dyn Fn(&[ChatMessage]) -> Result<String> + Send + Sync>;

/// The ChatML template (Qwen2.5, the paper's models), for servers whose tokenizer is not at hand.
pub fn chatml() -> PromptRenderer {
    Arc::new(|messages: &[ChatMessage]| Ok(arpo_core::render_chatml(messages, true)))
}

/// Where and how to reach the server.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionsConfig {
    /// URL (base, or the full `/completions` URL), model name, key, timeout and retries.
    pub endpoint: EndpointConfig,
    /// Trajectories in flight at once (the server batches them).
    pub concurrency: usize,
}

impl CompletionsConfig {
    /// Defaults: key from `OPENAI_API_KEY`, 600 s per request (a long completion), 3 attempts,
    /// 1 s backoff, 32 trajectories in flight.
    pub fn new(url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            endpoint: EndpointConfig {
                timeout: Duration::from_secs(600),
                ..EndpointConfig::new(url, model)
            },
            concurrency: 32,
        }
    }
}

/// The completions-server agent.
pub struct CompletionsAgent {
    config: CompletionsConfig,
    api: ApiClient,
    render: PromptRenderer,
}

/// One completion: its text, why it stopped and its length in tokens.
struct Completion {
    text: String,
    finish_reason: String,
    tokens: usize,
}

impl CompletionsAgent {
    /// Builds the client; the API key is read from the environment now.
    pub fn new(config: CompletionsConfig, render: PromptRenderer) -> Result<Self> {
        if config.concurrency == 0 {
            return Err(Error::Config(
                "completions server: concurrency must be at least 1".into(),
            ));
        }
        let api = config
            .endpoint
            .client("/completions")
            .map_err(Error::Config)?;
        Ok(Self {
            config,
            api,
            render,
        })
    }

    /// One trajectory: completions until the response has no tool call left or the budget is
    /// spent.
    async fn trajectory(
        &self,
        prompt: &str,
        decoding: &Decoding,
        runner: &ToolRunner,
        seed: u64,
    ) -> Result<Trajectory> {
        let start = Instant::now();
        let stops = runner.stop_sequences();
        let mut response = String::new();
        let mut generated = 0usize;
        let mut tool_calls = BTreeMap::new();
        let mut state = TrajectoryToolState::default();
        // Every completion counts against the budget, and so do tool results (approximately: a
        // result costs at least one token per 4 bytes).
        let mut spent = 0usize;
        for round in 0u64.. {
            let budget = decoding.max_new_tokens.saturating_sub(spent);
            if budget == 0 {
                break;
            }
            let body = self.body(
                &format!("{prompt}{response}"),
                budget,
                decoding,
                &stops,
                seed ^ round,
            );
            let c = self.complete(&body).await?;
            generated += c.tokens;
            spent += c.tokens;
            response.push_str(&c.text);
            if c.finish_reason != "stop" {
                break;
            }
            // Servers leave the matched stop string out of the text: close the open tool tag.
            if let Some(close) = unclosed_tool_tag(&response, runner) {
                response.push_str(&close);
            }
            let Some(request) = runner.detect(&response) else {
                break;
            };
            *tool_calls.entry(request.tool.clone()).or_insert(0) += 1;
            let observation = runner.call(&mut state, request).await;
            let forced = observation.formatted();
            spent += forced.len().div_ceil(4);
            response.push_str(&forced);
        }
        Ok(Trajectory {
            response,
            tool_calls,
            generated_tokens: generated,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    fn body(
        &self,
        prompt: &str,
        max_tokens: usize,
        d: &Decoding,
        stops: &[String],
        seed: u64,
    ) -> serde_json::Value {
        json!({
            "model": self.config.endpoint.model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": d.temperature,
            "top_p": d.top_p,
            "top_k": if d.top_k == 0 { -1 } else { d.top_k as i64 },
            "repetition_penalty": d.repetition_penalty,
            "stop": stops,
            // Within i64 so that every server accepts it.
            "seed": seed & 0x7FFF_FFFF_FFFF_FFFF,
        })
    }

    async fn complete(&self, body: &serde_json::Value) -> Result<Completion> {
        self.api
            .post(body, |text| {
                let reply: Reply =
                    serde_json::from_str(text).map_err(|e| format!("malformed reply ({e})"))?;
                let choice = reply
                    .choices
                    .into_iter()
                    .next()
                    .ok_or_else(|| "reply without choices".to_string())?;
                Ok(Completion {
                    // Without usage, count roughly (4 bytes a token) rather than not at all.
                    tokens: reply
                        .usage
                        .map_or(choice.text.len().div_ceil(4), |u| u.completion_tokens),
                    finish_reason: choice.finish_reason.unwrap_or_default(),
                    text: choice.text,
                })
            })
            .await
            .map_err(Error::Agent)
    }
}

/// The closing tag of a tool call opened after the last tool result and not closed.
fn unclosed_tool_tag(response: &str, runner: &ToolRunner) -> Option<String> {
    let tail = &response[response
        .rfind("</result>")
        .map_or(0, |i| i + "</result>".len())..];
    runner
        .tags()
        .names()
        .filter_map(|name| {
            let open = tail.rfind(&format!("<{name}>"))?;
            let closed = tail[open..].contains(&format!("</{name}>"));
            (!closed).then_some((open, format!("</{name}>")))
        })
        .max_by_key(|(open, _)| *open)
        .map(|(_, close)| close)
}

#[async_trait(?Send)]
impl Agent for CompletionsAgent {
    fn describe(&self) -> String {
        format!("{} at {}", self.config.endpoint.model, self.api.endpoint())
    }

    async fn answer(
        &self,
        prompts: &[Vec<ChatMessage>],
        samples: usize,
        decoding: &Decoding,
        runner: &Arc<ToolRunner>,
        seed: u64,
    ) -> Result<Vec<Vec<Trajectory>>> {
        let texts = prompts
            .iter()
            .map(|m| (self.render)(m))
            .collect::<Result<Vec<_>>>()?;
        let jobs = texts
            .iter()
            .enumerate()
            .flat_map(|(p, text)| (0..samples).map(move |s| (p, s, text.as_str())));
        let mut done: Vec<(usize, usize, Trajectory)> = stream::iter(jobs)
            .map(|(p, s, text)| async move {
                let seed = seed.wrapping_add((p * samples + s) as u64);
                self.trajectory(text, decoding, runner, seed)
                    .await
                    .map(|t| (p, s, t))
            })
            .buffer_unordered(self.config.concurrency)
            .try_collect()
            .await?;
        done.sort_by_key(|(p, s, _)| (*p, *s));
        let mut out: Vec<Vec<Trajectory>> = (0..prompts.len()).map(|_| Vec::new()).collect();
        for (p, _, t) in done {
            out[p].push(t);
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
struct Reply {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    text: String,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    completion_tokens: usize,
}
