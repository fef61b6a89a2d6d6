//! [`ByteTokenizer`]: ids 0..=255 are bytes, then a few whole-token specials; for tiny models
//! trained from scratch, where a learned vocabulary would be noise.

use arpo_core::{ChatMessage, TokenId};

use crate::{Error, Result};

/// Byte-level tokenizer with ChatML-style special tokens.
///
/// Ids: `0..=255` are raw bytes; [`BOS`](Self::BOS) `<|bos|>` = 256, [`EOS`](Self::EOS)
/// `<|eos|>` = 257, [`IM_START`](Self::IM_START) `<|im_start|>` = 258,
/// [`IM_END`](Self::IM_END) `<|im_end|>` = 259; with [`with_tool_tags`](Self::with_tool_tags),
/// [`TOOL_TAGS`](Self::TOOL_TAGS) follow from 260 in their listed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteTokenizer {
    /// Special token strings; the one at index `i` has id `256 + i`.
    specials: Vec<String>,
}

impl Default for ByteTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl ByteTokenizer {
    /// Beginning of a document.
    pub const BOS: TokenId = 256;
    /// End of a document; stops generation.
    pub const EOS: TokenId = 257;
    /// Starts a chat turn.
    pub const IM_START: TokenId = 258;
    /// Ends a chat turn; stops generation.
    pub const IM_END: TokenId = 259;
    /// The specials every byte tokenizer has, in id order from 256.
    pub const BASE_SPECIALS: [&'static str; 4] =
        ["<|bos|>", "<|eos|>", "<|im_start|>", "<|im_end|>"];
    /// Tool and reasoning tags, ids 260.. with [`with_tool_tags`](Self::with_tool_tags).
    pub const TOOL_TAGS: [&'static str; 10] = [
        "<python>",
        "</python>",
        "<search>",
        "</search>",
        "<result>",
        "</result>",
        "<answer>",
        "</answer>",
        "<think>",
        "</think>",
    ];

    /// Bytes plus the four base specials (vocabulary 260).
    pub fn new() -> Self {
        Self {
            specials: Self::BASE_SPECIALS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Bytes, base specials and [`TOOL_TAGS`](Self::TOOL_TAGS) (vocabulary 270).
    pub fn with_tool_tags() -> Self {
        Self::with_extra_specials(&Self::TOOL_TAGS)
            .unwrap_or_else(|_| unreachable!("tool tags are distinct"))
    }

    /// Bytes, base specials, then `extra` (ids from 260 in the given order).
    pub fn with_extra_specials(extra: &[&str]) -> Result<Self> {
        let mut tok = Self::new();
        for s in extra {
            if s.is_empty() || tok.specials.iter().any(|t| t == s) {
                return Err(Error::Tokenizer(format!(
                    "byte tokenizer: special token {s:?} is empty or repeated"
                )));
            }
            tok.specials.push(s.to_string());
        }
        Ok(tok)
    }

    /// The id of a special token string.
    pub fn special_id(&self, token: &str) -> Option<TokenId> {
        self.specials
            .iter()
            .position(|s| s == token)
            .map(|i| 256 + i as TokenId)
    }

    /// The special token strings, in id order from 256.
    pub fn specials(&self) -> &[String] {
        &self.specials
    }

    /// The longest special that `text` starts with.
    fn special_prefix(&self, text: &str) -> Option<(TokenId, usize)> {
        self.specials
            .iter()
            .enumerate()
            .filter(|(_, s)| text.starts_with(s.as_str()))
            .max_by_key(|(_, s)| s.len())
            .map(|(i, s)| (256 + i as TokenId, s.len()))
    }
}

impl arpo_core::Tokenizer for ByteTokenizer {
    fn encode(&self, text: &str) -> arpo_core::Result<Vec<TokenId>> {
        let bytes = text.as_bytes();
        let mut ids = Vec::with_capacity(bytes.len());
        let mut pos = 0;
        while pos < bytes.len() {
            // Specials all start with '<', so only there is a lookup needed; `pos` is then a
            // char boundary because '<' is ASCII.
            if bytes[pos] == b'<' {
                if let Some((id, len)) = self.special_prefix(&text[pos..]) {
                    ids.push(id);
                    pos += len;
                    continue;
                }
            }
            ids.push(TokenId::from(bytes[pos]));
            pos += 1;
        }
        Ok(ids)
    }

    fn decode(&self, ids: &[TokenId]) -> arpo_core::Result<String> {
        let mut out = String::new();
        let mut run: Vec<u8> = Vec::new();
        for &id in ids {
            if let Ok(byte) = u8::try_from(id) {
                run.push(byte);
                continue;
            }
            let special = self.specials.get(id as usize - 256).ok_or_else(|| {
                Error::Tokenizer(format!(
                    "byte tokenizer: id {id} is outside the vocabulary of {}",
                    self.vocab_size()
                ))
            })?;
            // A model can emit any byte sequence; invalid UTF-8 becomes U+FFFD rather than an error.
            out.push_str(&String::from_utf8_lossy(&run));
            run.clear();
            out.push_str(special);
        }
        out.push_str(&String::from_utf8_lossy(&run));
        Ok(out)
    }

    fn vocab_size(&self) -> usize {
        256 + self.specials.len()
    }

    fn stop_token_ids(&self) -> Vec<TokenId> {
        vec![Self::EOS, Self::IM_END]
    }

    fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> arpo_core::Result<String> {
        Ok(arpo_core::render_chatml(messages, add_generation_prompt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arpo_core::Tokenizer;

    #[test]
    fn specials_are_single_tokens_and_bytes_round_trip() {
        let t = ByteTokenizer::with_tool_tags();
        let ids = t.encode("<|im_start|>é<python>x</python><pyt").unwrap();
        let python = t.special_id("<python>").unwrap();
        assert_eq!(python, 260);
        assert_eq!(ids[0], ByteTokenizer::IM_START);
        assert_eq!(
            &ids[1..3],
            "é".as_bytes()
                .iter()
                .map(|&b| b as TokenId)
                .collect::<Vec<_>>()
                .as_slice()
        );
        assert_eq!(ids[3], python);
        assert_eq!(
            t.decode(&ids).unwrap(),
            "<|im_start|>é<python>x</python><pyt"
        );
        // Without tags, `<python>` is plain bytes.
        assert_eq!(ByteTokenizer::new().encode("<python>").unwrap().len(), 8);
    }

    #[test]
    fn invalid_utf8_decodes_lossily_and_bad_ids_error() {
        let t = ByteTokenizer::new();
        // 0xC3 starts a two-byte sequence that EOS interrupts.
        assert_eq!(
            t.decode(&[0xC3, ByteTokenizer::EOS, 0xFF]).unwrap(),
            "\u{FFFD}<|eos|>\u{FFFD}"
        );
        assert!(t.decode(&[260]).is_err());
        assert!(ByteTokenizer::with_extra_specials(&["<|eos|>"]).is_err());
    }

    #[test]
    fn chat_template_is_chatml() {
        let t = ByteTokenizer::new();
        let text = t
            .apply_chat_template(&[ChatMessage::user("hi")], true)
            .unwrap();
        assert_eq!(
            text,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
        let ids = t.encode(&text).unwrap();
        assert_eq!(
            ids.iter()
                .filter(|&&i| i == ByteTokenizer::IM_START)
                .count(),
            2
        );
        assert_eq!(t.stop_token_ids(), vec![257, 259]);
    }
}
