//! [`HfTokenizer`]: a `tokenizers::Tokenizer` plus chat template and stop ids, read from an HF
//! folder (`tokenizer.json`, `tokenizer_config.json`) or from a GGUF file's metadata.

use std::collections::BTreeMap;
use std::path::Path;

use arpo_core::{ChatMessage, TokenId};
use serde_json::Value as Json;

use super::gguf::{token_of, tokenizer_from_gguf};
use super::template::ChatTemplate;
use crate::weights::GgufMetadata;
use crate::{Error, Result};

/// End-of-turn tokens that stop generation whenever the vocabulary has them (ChatML, Llama 3,
/// GPT-2 style document end).
pub const END_OF_TURN_TOKENS: [&str; 3] = ["<|im_end|>", "<|eot_id|>", "<|endoftext|>"];

/// Template variables that name special tokens.
const SPECIAL_VARS: [&str; 4] = ["bos_token", "eos_token", "unk_token", "pad_token"];

/// A pretrained tokenizer (HF `tokenizers`) with its chat template.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    template: Option<ChatTemplate>,
    stop_ids: Vec<TokenId>,
    vocab_size: usize,
    origin: String,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("origin", &self.origin)
            .field("vocab_size", &self.vocab_size)
            .field("stop_ids", &self.stop_ids)
            .finish_non_exhaustive()
    }
}

fn read_json(path: &Path) -> Result<Json> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Parse {
        location: path.display().to_string(),
        message: e.to_string(),
    })
}

/// A special token in `tokenizer_config.json`: a string, or an AddedToken object with `content`.
fn token_string(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Object(o) => o.get("content").and_then(Json::as_str).map(str::to_string),
        _ => None,
    }
}

/// Ids in a `config.json` / `generation_config.json` `eos_token_id` (a number or a list).
fn json_ids(v: Option<&Json>) -> Vec<TokenId> {
    match v {
        Some(Json::Number(n)) => n.as_u64().map(|id| vec![id as TokenId]).unwrap_or_default(),
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(Json::as_u64)
            .map(|id| id as TokenId)
            .collect(),
        _ => Vec::new(),
    }
}

impl HfTokenizer {
    /// Assembles a tokenizer. Stop ids are `extra_stop_ids`, the id of `specials["eos_token"]`,
    /// and every [`END_OF_TURN_TOKENS`] entry the vocabulary has; `model_vocab` (the model's
    /// embedding rows) raises [`vocab_size`](arpo_core::Tokenizer::vocab_size) above the
    /// tokenizer's own count.
    pub fn new(
        inner: tokenizers::Tokenizer,
        template: Option<ChatTemplate>,
        eos_token: Option<&str>,
        extra_stop_ids: &[TokenId],
        model_vocab: Option<usize>,
        origin: String,
    ) -> Self {
        let mut stop_ids: Vec<TokenId> = extra_stop_ids.to_vec();
        stop_ids.extend(eos_token.and_then(|t| inner.token_to_id(t)));
        stop_ids.extend(
            END_OF_TURN_TOKENS
                .iter()
                .filter_map(|t| inner.token_to_id(t)),
        );
        stop_ids.sort_unstable();
        stop_ids.dedup();
        let vocab_size = inner.get_vocab_size(true).max(model_vocab.unwrap_or(0));
        Self {
            inner,
            template,
            stop_ids,
            vocab_size,
            origin,
        }
    }

    /// Reads `dir/tokenizer.json`, and when present `tokenizer_config.json` (chat template,
    /// special tokens), `config.json` (`vocab_size`, `eos_token_id`) and `generation_config.json`
    /// (`eos_token_id`).
    pub fn from_folder(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let inner = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        let config_path = dir.join("tokenizer_config.json");
        let config = if config_path.is_file() {
            read_json(&config_path)?
        } else {
            Json::Null
        };
        let specials: BTreeMap<String, String> = SPECIAL_VARS
            .iter()
            .filter_map(|k| {
                config
                    .get(*k)
                    .and_then(token_string)
                    .map(|v| (k.to_string(), v))
            })
            .collect();
        let origin = config_path.display().to_string();
        let template = match config.get("chat_template") {
            Some(Json::String(src)) => Some(ChatTemplate::new(src, specials.clone(), &origin)?),
            // Some files list several named templates; the one called "default" is the chat one.
            Some(Json::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Json::as_str) == Some("default"))
                .and_then(|t| t.get("template").and_then(Json::as_str))
                .map(|src| ChatTemplate::new(src, specials.clone(), &origin))
                .transpose()?,
            _ => None,
        };
        let mut stop_ids = Vec::new();
        let mut model_vocab = None;
        for name in ["config.json", "generation_config.json"] {
            let p = dir.join(name);
            if p.is_file() {
                let json = read_json(&p)?;
                stop_ids.extend(json_ids(json.get("eos_token_id")));
                model_vocab = model_vocab.or(json
                    .get("vocab_size")
                    .and_then(Json::as_u64)
                    .map(|v| v as usize));
            }
        }
        let eos = specials.get("eos_token").map(String::as_str);
        Ok(Self::new(
            inner,
            template,
            eos,
            &stop_ids,
            model_vocab,
            dir.display().to_string(),
        ))
    }

    /// Builds the tokenizer and chat template stored in a GGUF file's metadata.
    pub fn from_gguf_metadata(meta: &GgufMetadata, origin: &str) -> Result<Self> {
        let inner = tokenizer_from_gguf(meta, origin)?;
        let specials: BTreeMap<String, String> = [
            ("bos_token", "tokenizer.ggml.bos_token_id"),
            ("eos_token", "tokenizer.ggml.eos_token_id"),
            ("unk_token", "tokenizer.ggml.unknown_token_id"),
            ("pad_token", "tokenizer.ggml.padding_token_id"),
        ]
        .iter()
        .filter_map(|(var, key)| token_of(meta, key).map(|t| (var.to_string(), t)))
        .collect();
        let template = meta
            .get_str("tokenizer.chat_template")
            .map(|src| {
                ChatTemplate::new(
                    src,
                    specials.clone(),
                    &format!("{origin}: tokenizer.chat_template"),
                )
            })
            .transpose()?;
        let eos_id: Vec<TokenId> = meta
            .get_u64("tokenizer.ggml.eos_token_id")
            .map(|id| id as TokenId)
            .into_iter()
            .collect();
        let n_tokens = meta.get_array("tokenizer.ggml.tokens").map(<[_]>::len);
        Ok(Self::new(
            inner,
            template,
            None,
            &eos_id,
            n_tokens,
            origin.to_string(),
        ))
    }

    /// Reads the tokenizer of a GGUF file.
    pub fn from_gguf(path: &Path) -> Result<Self> {
        Self::from_gguf_metadata(&GgufMetadata::read(path)?, &path.display().to_string())
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// The chat template, if the checkpoint has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.template.as_ref()
    }

    /// The id of a token string (special tokens included).
    pub fn token_id(&self, token: &str) -> Option<TokenId> {
        self.inner.token_to_id(token)
    }
}

impl arpo_core::Tokenizer for HfTokenizer {
    fn encode(&self, text: &str) -> arpo_core::Result<Vec<TokenId>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(format!("{}: encode: {e}", self.origin)))?;
        Ok(enc.get_ids().to_vec())
    }

    fn decode(&self, ids: &[TokenId]) -> arpo_core::Result<String> {
        Ok(self
            .inner
            .decode(ids, false)
            .map_err(|e| Error::Tokenizer(format!("{}: decode: {e}", self.origin)))?)
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn stop_token_ids(&self) -> Vec<TokenId> {
        self.stop_ids.clone()
    }

    fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> arpo_core::Result<String> {
        let template = self
            .template
            .as_ref()
            .ok_or_else(|| Error::Tokenizer(format!("{}: no chat template", self.origin)))?;
        Ok(template.render(messages, add_generation_prompt)?)
    }
}
