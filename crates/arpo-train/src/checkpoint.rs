//! Checkpoints: model, optimiser moments, RNG, data position and step in one file, written
//! atomically (temp file in the same folder, fsync, rename, fsync of the folder) and checked by
//! a trailing hash, so that a run killed at any instant resumes from its last complete
//! checkpoint. Damaged or partial files are skipped with a warning.
//!
//! Layout: `ARPOCKPT` magic, u32 format version, three length-prefixed sections (training
//! state as JSON, model record, optimiser record; burn bincode records at full precision), then
//! the FNV-1a 64 hash of everything before it. All integers little-endian.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::optim::Optim;
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"ARPOCKPT";
const VERSION: u32 = 1;
type Rec = BinBytesRecorder<FullPrecisionSettings, Vec<u8>>;

/// The exact position of a ChaCha stream (seed, stream, word position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte seed.
    pub seed: [u8; 32],
    /// The stream id.
    pub stream: u64,
    /// Words consumed, as a decimal string (u128 does not fit JSON numbers).
    pub word_pos: String,
}

impl RngState {
    /// Captures where `rng` stands.
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    /// A generator continuing exactly where the captured one stood.
    pub fn restore(&self) -> Result<ChaCha8Rng> {
        use rand::SeedableRng;
        let pos: u128 = self
            .word_pos
            .parse()
            .map_err(|e| Error::parse("checkpoint: rng.word_pos", format!("{e}")))?;
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(pos);
        Ok(rng)
    }
}

/// Everything besides tensors that a run needs to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimiser steps completed.
    pub step: u64,
    /// Index of the next example in the data order.
    pub data_position: u64,
    /// Passes over the data completed.
    pub epoch: u64,
    /// The run's random generator.
    pub rng: RngState,
    /// Caller data (e.g. the last metrics); kept as is.
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// A checkpoint read back and verified.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The file it came from.
    pub path: PathBuf,
    /// The training state.
    pub state: TrainState,
    model: Vec<u8>,
    optimizer: Vec<u8>,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// File name of the checkpoint of `step`.
pub fn file_name(step: u64) -> String {
    format!("step-{step:08}.ckpt")
}

fn record_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Usage(format!("checkpoint {what} record: {e:?}"))
}

/// Writes a checkpoint of `model` and `optim` into `dir` (created if missing) and returns its
/// path. The file appears complete or not at all.
pub fn save<B: AutodiffBackend, M: AutodiffModule<B>>(
    dir: &Path,
    state: &TrainState,
    model: &M,
    optim: &Optim<B, M>,
) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json =
        serde_json::to_vec(state).map_err(|e| Error::Usage(format!("checkpoint state: {e}")))?;
    let model_bytes = Recorder::<B>::record(&Rec::default(), model.clone().into_record(), ())
        .map_err(|e| record_err("model", e))?;
    let optim_bytes = Recorder::<B>::record(&Rec::default(), optim.record(), ())
        .map_err(|e| record_err("optimizer", e))?;
    let mut buf = Vec::with_capacity(json.len() + model_bytes.len() + optim_bytes.len() + 48);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&VERSION.to_le_bytes());
    for section in [&json, &model_bytes, &optim_bytes] {
        buf.extend_from_slice(&(section.len() as u64).to_le_bytes());
        buf.extend_from_slice(section);
    }
    let hash = fnv1a(&buf);
    buf.extend_from_slice(&hash.to_le_bytes());

    let path = dir.join(file_name(state.step));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name(state.step),
        std::process::id()
    ));
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(&buf)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    // The rename itself must reach the disk before the checkpoint counts.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    tracing::debug!(path = %path.display(), bytes = buf.len(), "checkpoint written");
    Ok(path)
}

impl Checkpoint {
    /// Reads and verifies a checkpoint file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        let loc = path.display().to_string();
        let bad = |m: &str| Error::parse(loc.clone(), m.to_string());
        if bytes.len() < 12 + 24 + 8 || &bytes[..8] != MAGIC {
            return Err(bad("not an arpo checkpoint or truncated"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let stored = u64::from_le_bytes(tail.try_into().map_err(|_| bad("hash"))?);
        if fnv1a(body) != stored {
            return Err(bad("hash mismatch (partial or corrupt file)"));
        }
        let version = u32::from_le_bytes(body[8..12].try_into().map_err(|_| bad("version"))?);
        if version != VERSION {
            return Err(bad(&format!(
                "format version {version}, expected {VERSION}"
            )));
        }
        let mut at = 12;
        let mut sections = Vec::new();
        for name in ["state", "model", "optimizer"] {
            let len = body
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| bad(&format!("{name} section length")))?
                as usize;
            let data = body
                .get(at + 8..at + 8 + len)
                .ok_or_else(|| bad(&format!("{name} section runs past the end")))?;
            sections.push(data.to_vec());
            at += 8 + len;
        }
        let state: TrainState = serde_json::from_slice(&sections[0])
            .map_err(|e| Error::parse(format!("{loc}: state"), e.to_string()))?;
        let optimizer = sections.pop().unwrap_or_default();
        let model = sections.pop().unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            state,
            model,
            optimizer,
        })
    }

    /// The complete checkpoint with the highest step in `dir`; damaged files are skipped with a
    /// warning. `None` when there is none (or no folder).
    pub fn latest(dir: &Path) -> Result<Option<Self>> {
        let mut steps = list(dir)?;
        steps.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (_, path) in steps {
            match Self::read(&path) {
                Ok(c) => return Ok(Some(c)),
                Err(e) => tracing::warn!("skipping checkpoint {}: {e}", path.display()),
            }
        }
        Ok(None)
    }

    /// Loads the model weights into `model` (built with the same configuration).
    pub fn restore_model<B: Backend, M: Module<B>>(
        &self,
        model: M,
        device: &B::Device,
    ) -> Result<M> {
        let record = Recorder::<B>::load(&Rec::default(), self.model.clone(), device)
            .map_err(|e| record_err("model", e))?;
        Ok(model.load_record(record))
    }

    /// Loads the optimiser moments and step into `optim`.
    pub fn restore_optim<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        optim: Optim<B, M>,
        device: &B::Device,
    ) -> Result<Optim<B, M>> {
        let record = Recorder::<B>::load(&Rec::default(), self.optimizer.clone(), device)
            .map_err(|e| record_err("optimizer", e))?;
        Ok(optim.load(record, self.state.step as usize))
    }
}

/// `(step, path)` of the checkpoint files in `dir` (by name; contents unchecked).
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(step) = name
            .strip_prefix("step-")
            .and_then(|s| s.strip_suffix(".ckpt"))
            .and_then(|s| s.parse().ok())
        {
            out.push((step, entry.path()));
        }
    }
    Ok(out)
}

/// Deletes all but the newest `keep` checkpoints (and stale temp files) in `dir`.
pub fn prune(dir: &Path, keep: usize) -> Result<()> {
    let mut steps = list(dir)?;
    steps.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, path) in steps.into_iter().skip(keep.max(1)) {
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    // Temp files of writers that died before their rename.
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(".step-") && name.contains(".ckpt.tmp-") {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}
