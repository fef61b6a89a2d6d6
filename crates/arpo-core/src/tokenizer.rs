//! The tokenizer trait: text <-> token ids, plus the model's chat template.

use crate::{ChatMessage, Result, TokenId};

/// Turns text into token ids and back, and renders conversations with the model's chat template.
///
/// Implementations: the HF `tokenizer.json` / GGUF tokenizer and the byte-level tokenizer of
/// arpo-model; tests use their own small mocks.
pub trait Tokenizer: Send + Sync {
    /// Encodes text without adding BOS/EOS; special tokens written in the text (e.g.
    /// `<|im_start|>`) are recognised as such.
    fn encode(&self, text: &str) -> Result<Vec<TokenId>>;

    /// Decodes ids to text, keeping special tokens visible.
    fn decode(&self, ids: &[TokenId]) -> Result<String>;

    /// Number of ids the model's embedding covers (may exceed the number of real tokens).
    fn vocab_size(&self) -> usize;

    /// Ids that end generation (EOS and end-of-turn tokens).
    fn stop_token_ids(&self) -> Vec<TokenId>;

    /// Renders a conversation with the chat template; with `add_generation_prompt` the text ends
    /// where the assistant's answer begins.
    fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String>;
}
