//! The compact prompt of the synthetic task and the SFT output format (ShareGPT conversations).
//!
//! The system prompt is a short variant of the reference ARPO prompt (`prompt_manager.py`, the
//! `prompt[0]` of the RL parquet files): same tools, same tags, same order of blocks, same boxed
//! answer, but about a tenth of its length, because the quickstart model is tiny and its whole
//! context (prompt and response) is a few hundred tokens. The reference's
//! `The final answer is \[ \boxed{…} \]` wrapper is shortened to `\boxed{…}`.

use arpo_core::{ChatMessage, Role};
use serde::{Deserialize, Serialize};

/// The compact system prompt (see the module docs for how it departs from the reference).
pub const SYSTEM_PROMPT: &str = "Use <search> query </search> and <python> code </python>; \
each returns <result> output </result>. Think in <think> </think>, then \
<answer> \\boxed{answer} </answer>.";

/// The chat prompt of a question: `[system, user]`, as the RL parquet files carry it, or the
/// user turn alone without `system`.
pub fn prompt_messages(question: &str, system: bool) -> Vec<ChatMessage> {
    let user = ChatMessage::new(Role::User, question);
    if system {
        vec![ChatMessage::new(Role::System, SYSTEM_PROMPT), user]
    } else {
        vec![user]
    }
}

/// The forced segment appended after a tool call: ` <result>\n{output}\n</result>`, byte for byte
/// what arpo-tools' `format_result` / `Observation::formatted` append during rollouts (a test
/// checks the two agree).
pub fn result_segment(output: &str) -> String {
    format!(" <result>\n{output}\n</result>")
}

/// One turn of a ShareGPT conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareGptTurn {
    /// `system`, `human` or `gpt` (`tool` for a tool turn, which this task never makes).
    pub from: String,
    /// The text.
    pub value: String,
}

/// A ShareGPT conversation (`{"conversations":[{"from","value"},…]}`), the format of
/// ARPO-SFT-54K that the SFT cold start reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareGpt {
    /// The turns in order.
    pub conversations: Vec<ShareGptTurn>,
}

impl ShareGpt {
    /// The prompt messages followed by the assistant response.
    pub fn new(prompt: &[ChatMessage], response: &str) -> Self {
        let from = |role: Role| match role {
            Role::System => "system",
            Role::User => "human",
            Role::Assistant => "gpt",
            Role::Tool => "tool",
        };
        let mut conversations: Vec<ShareGptTurn> = prompt
            .iter()
            .map(|m| ShareGptTurn {
                from: from(m.role).to_string(),
                value: m.content.clone(),
            })
            .collect();
        conversations.push(ShareGptTurn {
            from: "gpt".to_string(),
            value: response.to_string(),
        });
        Self { conversations }
    }

    /// One JSON line.
    pub fn to_json_line(&self) -> String {
        // Serialising strings and vectors of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
