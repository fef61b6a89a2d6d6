//! Tokenizers implementing [`arpo_core::Tokenizer`]: HF `tokenizer.json` (or the vocabulary in
//! a GGUF file) with its Jinja chat template, and a byte-level tokenizer for tiny models.

mod byte;
mod gguf;
mod hf;
mod template;
mod train;

use std::path::Path;

pub use byte::ByteTokenizer;
pub use hf::{HfTokenizer, END_OF_TURN_TOKENS};
pub use template::ChatTemplate;
pub use train::{train_bpe, BpeTrainingConfig, CHATML_SPECIALS, CHATML_TEMPLATE};

use crate::{Error, Result};

/// Loads the tokenizer of a checkpoint: an HF folder (with `tokenizer.json`), a `tokenizer.json`
/// file (its folder is read), or a `.gguf` file.
pub fn load_tokenizer(path: &Path) -> Result<Box<dyn arpo_core::Tokenizer>> {
    if path.is_dir() {
        return Ok(Box::new(HfTokenizer::from_folder(path)?));
    }
    let is_gguf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    if is_gguf {
        return Ok(Box::new(HfTokenizer::from_gguf(path)?));
    }
    if path.file_name().is_some_and(|n| n == "tokenizer.json") {
        let dir = path.parent().unwrap_or(Path::new("."));
        return Ok(Box::new(HfTokenizer::from_folder(dir)?));
    }
    if !path.exists() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        });
    }
    Err(Error::Unsupported(format!(
        "{}: expected an HF folder, a tokenizer.json or a .gguf file",
        path.display()
    )))
}
