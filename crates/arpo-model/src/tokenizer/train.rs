//! Training a small byte-level BPE tokenizer on a task's own text, for from-scratch models.
//!
//! Why: a byte tokenizer makes every name and number many tokens long, so a tiny model must learn
//! long-range character copying before it can use a tool, and every sequence is 3–4× longer than
//! it needs to be. A BPE vocabulary of a few hundred merges learned on the training text (as
//! real LLM tokenizers are learned on theirs) shortens sequences and makes the recurring pieces
//! (syllables of names, words of the templates) single tokens.
//!
//! The pipeline is GPT-2's (HF `tokenizers`): digits split one by one (so every number is spelled
//! the same way wherever it appears, as in Llama-style tokenizers), then byte-level pre-tokenization;
//! ChatML end-of-turn and the tool tags are special tokens that are never split. The result is an
//! ordinary [`HfTokenizer`] with a ChatML chat template, serialisable to `tokenizer.json`.

use std::collections::BTreeMap;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    TokenizerBuilder,
};

use super::{ByteTokenizer, ChatTemplate, HfTokenizer};
use crate::{Error, Result};

/// ChatML, the template of Qwen and SmolLM2 chat models.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n\
{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// ChatML's special tokens, always in the vocabulary (ids 0, 1, 2).
pub const CHATML_SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// What to learn.
#[derive(Debug, Clone, PartialEq)]
pub struct BpeTrainingConfig {
    /// Vocabulary size including the 256 byte tokens and the special tokens.
    pub vocab_size: usize,
    /// A pair is merged only if it occurs at least this often.
    pub min_frequency: u64,
    /// Special tokens after the ChatML ones (e.g. [`ByteTokenizer::TOOL_TAGS`]).
    pub extra_specials: Vec<String>,
    /// Split numbers into single digits before BPE (Llama-style). Off, numbers are GPT-2
    /// pre-tokens (` 1424`) that BPE chunks by frequency: fewer tokens per number, the same
    /// chunks wherever the number follows a space.
    pub split_digits: bool,
}

impl Default for BpeTrainingConfig {
    fn default() -> Self {
        Self {
            vocab_size: 512,
            min_frequency: 2,
            extra_specials: ByteTokenizer::TOOL_TAGS
                .iter()
                .map(|t| t.to_string())
                .collect(),
            split_digits: true,
        }
    }
}

/// Learns a byte-level BPE tokenizer from `texts`. Deterministic: the same texts and config give
/// the same vocabulary and merges. Errors on a vocabulary too small to hold the byte alphabet
/// and the special tokens.
pub fn train_bpe(texts: &[String], config: &BpeTrainingConfig) -> Result<HfTokenizer> {
    let specials: Vec<String> = CHATML_SPECIALS
        .iter()
        .map(|s| s.to_string())
        .chain(config.extra_specials.iter().cloned())
        .collect();
    let floor = 256 + specials.len();
    if config.vocab_size < floor {
        return Err(Error::Tokenizer(format!(
            "train_bpe: vocab_size {} is below the {floor} byte and special tokens",
            config.vocab_size
        )));
    }
    let added: Vec<AddedToken> = specials
        .iter()
        .map(|s| AddedToken::from(s.clone(), true))
        .collect();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(config.vocab_size)
        .min_frequency(config.min_frequency)
        .special_tokens(added.clone())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .show_progress(false)
        .build();
    let byte_level = PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true));
    let pre = if config.split_digits {
        Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            byte_level,
        ])
    } else {
        Sequence::new(vec![byte_level])
    };
    let err =
        |what: &str, e: tokenizers::Error| Error::Tokenizer(format!("train_bpe: {what}: {e}"));
    let mut builder = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(BPE::default())
    .with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(pre)))
    .with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevelDecoder::default())))
    .build()
    .map_err(|e| err("build", e))?;
    // Special tokens must be split off before training, or their pieces become merges.
    builder.add_special_tokens(&added);
    builder
        .train(&mut trainer, texts.iter())
        .map_err(|e| err("train", e))?;
    let inner: tokenizers::Tokenizer = builder.into();
    let mut names = BTreeMap::new();
    names.insert("eos_token".to_string(), CHATML_SPECIALS[0].to_string());
    let template = ChatTemplate::new(CHATML_TEMPLATE, names, "train_bpe")?;
    Ok(HfTokenizer::new(
        inner,
        Some(template),
        Some(CHATML_SPECIALS[0]),
        &[],
        None,
        format!("BPE trained on {} texts", texts.len()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arpo_core::{ChatMessage, Tokenizer};

    fn corpus() -> Vec<String> {
        let mut texts = Vec::new();
        for (i, name) in ["Velmora", "Drakevik", "Korlen", "Marton", "Talsk"]
            .iter()
            .enumerate()
        {
            for _ in 0..5 {
                texts.push(format!(
                    "<think> Find {name}. </think> <search> {name} founded </search> <result>\n\
                     Page 1: {name} is a town founded in {} with {} shops.\n</result> \
                     <python> 2025 - {} </python> <answer> \\boxed{{{}}} </answer>",
                    1200 + i * 37,
                    40 + i,
                    1200 + i * 37,
                    825 - i * 37
                ));
            }
        }
        texts
    }

    #[test]
    fn round_trips_and_shortens_the_training_text() {
        let texts = corpus();
        let tok = train_bpe(&texts, &BpeTrainingConfig::default()).expect("train");
        let mut bytes = 0;
        let mut tokens = 0;
        for t in &texts {
            let ids = tok.encode(t).expect("encode");
            assert_eq!(&tok.decode(&ids).expect("decode"), t, "lossless round trip");
            bytes += t.len();
            tokens += ids.len();
        }
        assert!(
            (tokens as f64) < 0.5 * bytes as f64,
            "{tokens} tokens for {bytes} bytes"
        );
        // Text never seen in training still round-trips (byte fallback of byte-level BPE).
        let unseen = "Qüx 98765 <python> print('ok') </python>";
        let ids = tok.encode(unseen).expect("encode");
        assert_eq!(tok.decode(&ids).expect("decode"), unseen);
    }

    #[test]
    fn tags_and_digits_are_single_tokens_and_chatml_stops() {
        let tok = train_bpe(&corpus(), &BpeTrainingConfig::default()).expect("train");
        for tag in ByteTokenizer::TOOL_TAGS
            .iter()
            .chain(CHATML_SPECIALS.iter())
        {
            let ids = tok.encode(tag).expect("encode");
            assert_eq!(ids.len(), 1, "{tag}: {ids:?}");
        }
        // Digits one by one: "2025" is four tokens, the same four in any context.
        let alone = tok.encode("2025").expect("encode");
        assert_eq!(alone.len(), 4);
        let inside = tok.encode("<python> 2025 - 1").expect("encode");
        assert!(inside.windows(4).any(|w| w == alone.as_slice()));
        let im_end = tok.encode("<|im_end|>").expect("encode")[0];
        let eos = tok.encode("<|endoftext|>").expect("encode")[0];
        assert!(tok.stop_token_ids().contains(&im_end));
        assert!(tok.stop_token_ids().contains(&eos));
        let text = tok
            .apply_chat_template(&[ChatMessage::user("hi")], true)
            .expect("template");
        assert_eq!(
            text,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn same_texts_same_vocabulary() {
        let a = train_bpe(&corpus(), &BpeTrainingConfig::default()).expect("train");
        let b = train_bpe(&corpus(), &BpeTrainingConfig::default()).expect("train");
        assert_eq!(a.inner().get_vocab(true), b.inner().get_vocab(true));
        assert!(train_bpe(
            &corpus(),
            &BpeTrainingConfig {
                vocab_size: 100,
                ..Default::default()
            }
        )
        .is_err());
    }
}
