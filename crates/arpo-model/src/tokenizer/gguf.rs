//! A `tokenizers::Tokenizer` rebuilt from GGUF metadata (`tokenizer.ggml.*`), the way
//! transformers' `gguf_tokenizer_mapping.py` and llama.cpp's `llama-vocab.cpp` read it.
//!
//! Only byte-level BPE (`tokenizer.ggml.model = "gpt2"`, used by SmolLM, Qwen, Llama 3) is built;
//! SentencePiece vocabularies (`"llama"`) are refused with a clear error.

use std::collections::HashSet;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::weights::{GgufMetadata, GgufValue};
use crate::{Error, Result};

/// `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// Llama-3 style split (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2 split (llama.cpp `LLAMA_VOCAB_PRE_TYPE_QWEN2`): digits one at a time.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How text is cut before BPE, chosen by `tokenizer.ggml.pre`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreSplit {
    /// GPT-2's regex (ByteLevel's own).
    Gpt2,
    /// Each digit apart, then GPT-2's regex (llama.cpp `SMOLLM` / `STARCODER` / `REFACT`;
    /// the `Digits(individual_digits)` + `ByteLevel` of SmolLM's own tokenizer.json).
    DigitsThenGpt2,
    /// A single regex, then byte-level mapping without GPT-2's regex.
    Regex(&'static str),
}

fn pre_split(pre: Option<&str>) -> PreSplit {
    match pre {
        None | Some("default" | "gpt-2" | "gpt2") => PreSplit::Gpt2,
        Some("smollm" | "starcoder" | "refact" | "codeshell") => PreSplit::DigitsThenGpt2,
        Some("llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "smaug-bpe" | "dbrx") => {
            PreSplit::Regex(LLAMA3_SPLIT)
        }
        Some("qwen2" | "deepseek-r1-qwen" | "megrez") => PreSplit::Regex(QWEN2_SPLIT),
        Some(other) => {
            // transformers falls back the same way; say so, since the ids may differ from llama.cpp.
            tracing::warn!(
                pre = other,
                "unknown tokenizer.ggml.pre, using the GPT-2 split"
            );
            PreSplit::Gpt2
        }
    }
}

/// GPT-2's `bytes_to_unicode`: the printable character standing for each byte.
pub(crate) fn byte_alphabet() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[b as usize] = if printable {
            char::from(b)
        } else {
            extra += 1;
            char::from_u32(255 + extra).unwrap_or('\u{FFFD}')
        };
    }
    table
}

fn strings<'a>(meta: &'a GgufMetadata, key: &str, origin: &str) -> Result<Vec<&'a str>> {
    let array = meta.get_array(key).ok_or_else(|| Error::Parse {
        location: format!("{origin}: {key}"),
        message: "missing".into(),
    })?;
    array
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().ok_or_else(|| Error::Parse {
                location: format!("{origin}: {key}[{i}]"),
                message: "not a string".into(),
            })
        })
        .collect()
}

/// Builds the byte-level BPE tokenizer a GGUF file describes; `origin` names the file in errors.
pub(crate) fn tokenizer_from_gguf(meta: &GgufMetadata, origin: &str) -> Result<Tokenizer> {
    let model = meta.get_str("tokenizer.ggml.model").unwrap_or("(none)");
    if model != "gpt2" {
        return Err(Error::Unsupported(format!(
            "{origin}: tokenizer.ggml.model = `{model}` (only byte-level BPE `gpt2` is built from GGUF)"
        )));
    }
    let tokens = strings(meta, "tokenizer.ggml.tokens", origin)?;
    let merges = strings(meta, "tokenizer.ggml.merges", origin)?;
    let types: Vec<i64> = meta
        .get_array("tokenizer.ggml.token_type")
        .map(|a| a.iter().map(|v| v.as_i64().unwrap_or(1)).collect())
        .unwrap_or_default();

    let alphabet = byte_alphabet();
    let in_alphabet: HashSet<char> = alphabet.iter().copied().collect();
    let spelled = |t: &str| t.chars().all(|c| in_alphabet.contains(&c));
    // A token written with characters outside the byte alphabet (e.g. a real space) is
    // re-spelled byte by byte, as transformers' `byte_level_tokenizer` does.
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| {
            let key = if spelled(t) {
                t.to_string()
            } else {
                t.bytes().map(|b| alphabet[b as usize]).collect()
            };
            (key, id as u32)
        })
        .collect();
    let merges: Vec<(String, String)> = merges
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| Error::Parse {
                    location: format!("{origin}: tokenizer.ggml.merges[{i}]"),
                    message: format!("`{m}` is not two space-separated tokens"),
                })
        })
        .collect::<Result<_>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| Error::Tokenizer(format!("{origin}: building BPE: {e}")))?;

    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer(
        meta.get_str("tokenizer.ggml.pre"),
        origin,
    )?));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

    // Control tokens (`<|im_start|>`) must stay whole and count as special; user-defined ones
    // (`<think>`) stay whole but are not special. A control token outside the byte alphabet is a
    // llama.cpp mislabel that transformers skips too.
    let kind = |id: usize| types.get(id).copied().unwrap_or(1);
    let control: Vec<AddedToken> = tokens
        .iter()
        .enumerate()
        .filter(|&(id, t)| kind(id) == TOKEN_CONTROL && spelled(t))
        .map(|(_, t)| AddedToken::from(t.to_string(), true).normalized(false))
        .collect();
    let user: Vec<AddedToken> = tokens
        .iter()
        .enumerate()
        .filter(|&(id, t)| kind(id) == TOKEN_USER_DEFINED && spelled(t))
        .map(|(_, t)| AddedToken::from(t.to_string(), false).normalized(false))
        .collect();
    tokenizer.add_special_tokens(&control);
    tokenizer.add_tokens(&user);
    Ok(tokenizer)
}

fn pre_tokenizer(pre: Option<&str>, origin: &str) -> Result<PreTokenizerWrapper> {
    let regex_split = |re: &str| {
        Split::new(
            SplitPattern::Regex(re.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map(PreTokenizerWrapper::from)
        .map_err(|e| Error::Tokenizer(format!("{origin}: pre-tokenizer regex: {e}")))
    };
    Ok(match pre_split(pre) {
        PreSplit::Gpt2 => ByteLevel::new(false, true, true).into(),
        PreSplit::DigitsThenGpt2 => Sequence::new(vec![
            regex_split(r"\p{N}")?,
            ByteLevel::new(false, true, true).into(),
        ])
        .into(),
        PreSplit::Regex(re) => Sequence::new(vec![
            regex_split(re)?,
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
    })
}

/// The token string of `key` (an id such as `tokenizer.ggml.eos_token_id`), if both exist.
pub(crate) fn token_of(meta: &GgufMetadata, key: &str) -> Option<String> {
    let id = meta.get_u64(key)? as usize;
    meta.get_array("tokenizer.ggml.tokens")?
        .get(id)
        .and_then(GgufValue::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_gpt2s() {
        let a = byte_alphabet();
        // Known fixed points and shifted bytes of GPT-2's table: space -> 'Ġ', newline -> 'Ċ'.
        assert_eq!(a[b'A' as usize], 'A');
        assert_eq!(a[b' ' as usize], 'Ġ');
        assert_eq!(a[b'\n' as usize], 'Ċ');
        assert_eq!(a.iter().collect::<HashSet<_>>().len(), 256);
    }

    #[test]
    fn sentencepiece_is_refused_with_its_name() {
        let mut meta = GgufMetadata::default();
        meta.entries.insert(
            "tokenizer.ggml.model".into(),
            GgufValue::String("llama".into()),
        );
        let err = tokenizer_from_gguf(&meta, "m.gguf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`llama`") && err.contains("m.gguf"), "{err}");
    }
}
