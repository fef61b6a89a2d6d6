//! Host-side checkpoint reading: HF safetensors folders and GGUF files, both exposed as a lazy
//! [`WeightSource`] of f32 [`HostTensor`]s under HF names and HF shapes.
//!
//! Nothing here knows about burn: the model converts host tensors to device tensors one at a time,
//! so a checkpoint is never held in f32 twice (files are memory-mapped, a tensor is dequantised
//! only when it is loaded).

mod dtype;
mod gguf_config;
mod gguf_file;
mod gguf_source;
mod gguf_types;
pub(crate) mod quant_rows;
mod quants;
mod safetensors;

use std::path::Path;

pub use gguf_file::{GgmlType, GgufFile, GgufMetadata, GgufTensorInfo, GgufValue};
pub use gguf_source::{gguf_to_hf_name, GgufSource};
pub use quant_rows::{QuantRows, RowFormat};
pub use quants::dequantize;
pub use safetensors::HfSafetensors;

use crate::{Error, ModelConfig, Result};

/// A dense f32 tensor in host memory, row-major, with its HF shape (an `nn.Linear` weight is
/// `[out_features, in_features]`).
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Number of elements the shape implies.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A checkpoint whose tensors are read on demand, named and shaped as in HF transformers.
pub trait WeightSource: Send + Sync {
    /// All tensor names (HF names; tensors this crate has no HF name for keep their own).
    fn names(&self) -> Vec<String>;

    /// The HF shape of `name`, or `None` if the checkpoint has no such tensor.
    fn shape(&self, name: &str) -> Option<Vec<usize>>;

    /// Reads and converts `name` to f32 (dequantising and undoing GGUF layout changes).
    fn load(&self, name: &str) -> Result<HostTensor>;

    /// The checkpoint's path, for error messages.
    fn describe(&self) -> String;

    /// `name` in its stored block form, when the checkpoint keeps a matrix in a format that
    /// [`QuantRows`] holds (GGUF Q4_0, Q4_1, Q8_0), rows in HF order; `None` otherwise.
    fn quant_rows(&self, _name: &str) -> Result<Option<QuantRows>> {
        Ok(None)
    }
}

/// Loads `name` and checks that its shape is `expected`.
///
/// The shape is checked before any data is read, so a wrong checkpoint fails fast.
pub fn load_checked(src: &dyn WeightSource, name: &str, expected: &[usize]) -> Result<HostTensor> {
    let found = src.shape(name).ok_or_else(|| Error::MissingTensor {
        name: name.to_string(),
        checkpoint: src.describe(),
    })?;
    if found != expected {
        return Err(Error::ShapeMismatch {
            name: name.to_string(),
            checkpoint: src.describe(),
            expected: expected.to_vec(),
            found,
        });
    }
    src.load(name)
}

/// Opens an HF model folder: `config.json` plus `model.safetensors` or a sharded
/// `model.safetensors.index.json`.
pub fn open_hf_folder(dir: &Path) -> Result<(ModelConfig, Box<dyn WeightSource>)> {
    let config = ModelConfig::from_file(&dir.join("config.json"))?;
    let source = HfSafetensors::open(dir)?;
    Ok((config, Box::new(source)))
}

/// Opens a GGUF file: the model config built from its metadata, its tensors under HF names, and
/// the metadata itself (which also carries the tokenizer and chat template).
pub fn open_gguf(path: &Path) -> Result<(ModelConfig, Box<dyn WeightSource>, GgufMetadata)> {
    let file = GgufFile::open(path)?;
    let config = gguf_config::config_from_gguf(&file)?;
    let metadata = file.metadata.clone();
    let source = GgufSource::new(file, &config)?;
    Ok((config, Box::new(source), metadata))
}
