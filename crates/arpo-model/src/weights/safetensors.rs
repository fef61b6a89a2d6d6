//! HF safetensors checkpoints: a single `model.safetensors` or shards listed in
//! `model.safetensors.index.json`, memory-mapped and converted to f32 per tensor on load.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use super::dtype::FloatDtype;
use super::{HostTensor, WeightSource};
use crate::{Error, Result};

/// One memory-mapped `.safetensors` file.
struct Shard {
    path: PathBuf,
    mmap: Mmap,
    /// Offset of the byte buffer (after the 8-byte length and the JSON header).
    data_start: usize,
}

/// Where a tensor lives.
#[derive(Debug, Clone)]
struct Entry {
    shard: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    /// Byte range inside the shard's data buffer.
    range: (usize, usize),
}

/// A safetensors checkpoint (one file or several shards) as a [`WeightSource`].
pub struct HfSafetensors {
    describe: String,
    shards: Vec<Shard>,
    entries: BTreeMap<String, Entry>,
}

const SINGLE: &str = "model.safetensors";
const INDEX: &str = "model.safetensors.index.json";

impl HfSafetensors {
    /// Opens `dir/model.safetensors`, or the shards named by `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let single = dir.join(SINGLE);
        let index = dir.join(INDEX);
        if single.is_file() {
            Self::from_files(&[single], dir.display().to_string())
        } else if index.is_file() {
            let files = shard_files(&index)?;
            let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
            Self::from_files(&paths, index.display().to_string())
        } else {
            Err(Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("neither {SINGLE} nor {INDEX} in this folder"),
                ),
            })
        }
    }

    /// Opens the given `.safetensors` files as one checkpoint; `describe` names it in errors.
    pub fn from_files(paths: &[PathBuf], describe: String) -> Result<Self> {
        let mut shards = Vec::with_capacity(paths.len());
        let mut entries = BTreeMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = File::open(path).map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
            // SAFETY: the mapping is read-only; a checkpoint modified while mapped is outside the
            // contract (as for every mmap-based loader, e.g. HF safetensors itself).
            let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
            let (header_len, metadata) =
                SafeTensors::read_metadata(&mmap).map_err(|e| Error::Parse {
                    location: path.display().to_string(),
                    message: format!("safetensors header: {e}"),
                })?;
            for (name, info) in metadata.tensors() {
                let entry = Entry {
                    shard: i,
                    dtype: info.dtype,
                    shape: info.shape.clone(),
                    range: info.data_offsets,
                };
                if entries.insert(name.clone(), entry).is_some() {
                    return Err(Error::Parse {
                        location: path.display().to_string(),
                        message: format!("tensor `{name}` appears in more than one shard"),
                    });
                }
            }
            shards.push(Shard {
                path: path.clone(),
                mmap,
                data_start: 8 + header_len,
            });
        }
        Ok(Self {
            describe,
            shards,
            entries,
        })
    }
}

/// The distinct shard file names of an index, in first-seen order.
fn shard_files(index: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::Io {
        path: index.to_path_buf(),
        source: e,
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Parse {
        location: index.display().to_string(),
        message: e.to_string(),
    })?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::Parse {
            location: format!("{}: weight_map", index.display()),
            message: "missing or not an object".into(),
        })?;
    let mut files: Vec<String> = Vec::new();
    for (name, file) in map {
        let file = file.as_str().ok_or_else(|| Error::Parse {
            location: format!("{}: weight_map.{name}", index.display()),
            message: "not a string".into(),
        })?;
        if !files.iter().any(|f| f == file) {
            files.push(file.to_string());
        }
    }
    Ok(files)
}

impl WeightSource for HfSafetensors {
    fn names(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.entries.get(name).map(|e| e.shape.clone())
    }

    fn load(&self, name: &str) -> Result<HostTensor> {
        let entry = self.entries.get(name).ok_or_else(|| Error::MissingTensor {
            name: name.to_string(),
            checkpoint: self.describe(),
        })?;
        let shard = &self.shards[entry.shard];
        let dtype = match entry.dtype {
            Dtype::F32 => FloatDtype::F32,
            Dtype::F16 => FloatDtype::F16,
            Dtype::BF16 => FloatDtype::Bf16,
            other => {
                return Err(Error::Unsupported(format!(
                    "{}: tensor `{name}` has dtype {other:?} (supported: F32, F16, BF16)",
                    shard.path.display()
                )))
            }
        };
        let numel: usize = entry.shape.iter().product();
        let (start, end) = (
            shard.data_start + entry.range.0,
            shard.data_start + entry.range.1,
        );
        // read_metadata already checked offsets against the buffer; this guards the arithmetic.
        let bytes = shard
            .mmap
            .get(start..end)
            .filter(|b| b.len() == numel * dtype.size())
            .ok_or_else(|| Error::Parse {
                location: format!("{}: tensor `{name}` at byte {start}", shard.path.display()),
                message: format!(
                    "data range {start}..{end} does not hold {numel} {:?} values",
                    entry.dtype
                ),
            })?;
        let mut data = vec![0.0f32; numel];
        dtype.convert(bytes, &mut data);
        Ok(HostTensor {
            shape: entry.shape.clone(),
            data,
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
