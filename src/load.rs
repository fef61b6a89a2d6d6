//! The policy a command-line example works with: a model folder or GGUF file and its tokenizer,
//! or a random tiny model on the byte tokenizer (for tests and dry runs), and the HF folder a
//! training example exports.

use std::path::Path;

use anyhow::{Context, Result};
use arpo_core::Tokenizer;
use arpo_model::tokenizer::{load_tokenizer, ByteTokenizer};
use arpo_model::{from_scratch, load_model, CausalLm, ModelConfig};
use burn::tensor::backend::Backend;

/// Loads the model at `path` (an HF folder or a `.gguf` file, with room for `context` tokens)
/// and its tokenizer; `None`: a random 2-layer, width-64 model from `seed` on the byte tokenizer
/// with tool tags.
pub fn load_policy<B: Backend>(
    path: Option<&Path>,
    seed: u64,
    context: usize,
) -> Result<(CausalLm<B>, Box<dyn Tokenizer>)> {
    let device = Default::default();
    match path {
        Some(path) => Ok((
            load_model::<B>(path, context, &device).with_context(|| path.display().to_string())?,
            load_tokenizer(path)?,
        )),
        None => {
            let tok = ByteTokenizer::with_tool_tags();
            let config = ModelConfig::small(tok.vocab_size(), 64, 2);
            Ok((from_scratch::<B>(&config, seed, &device)?, Box::new(tok)))
        }
    }
}

/// `None` for the word `tiny` (the random test model), else the path.
pub fn model_path(arg: &Path) -> Option<&Path> {
    (arg != Path::new("tiny")).then_some(arg)
}

/// Writes `model` as an HF folder at `dir` with the tokenizer files of `source` (the `--model`
/// argument it was trained from), and says so when there are none to copy.
pub fn export_policy<B: Backend>(model: &CausalLm<B>, source: &Path, dir: &Path) -> Result<()> {
    arpo_train::export::export_hf(model, dir)?;
    if copy_tokenizer_files(model_path(source), dir)? == 0 {
        eprintln!(
            "note: {} has no tokenizer files to copy; load the export with the tokenizer of {}",
            dir.display(),
            source.display()
        );
    }
    Ok(())
}

/// Copies the tokenizer files of the HF folder `from` (those present of `tokenizer.json`,
/// `tokenizer_config.json`, `special_tokens_map.json`) into the export folder `to`, so that
/// `to` loads as a model on its own. Returns how many were copied: none for a GGUF file or the
/// tiny model, whose tokenizer is not a file of its own.
pub fn copy_tokenizer_files(from: Option<&Path>, to: &Path) -> Result<usize> {
    let Some(from) = from.filter(|p| p.is_dir()) else {
        return Ok(0);
    };
    let mut copied = 0;
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        let src = from.join(name);
        if src.is_file() {
            std::fs::copy(&src, to.join(name)).with_context(|| src.display().to_string())?;
            copied += 1;
        }
    }
    Ok(copied)
}
