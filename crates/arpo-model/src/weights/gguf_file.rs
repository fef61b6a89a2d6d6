//! GGUF (v2/v3, little-endian) file reader: header, typed metadata, tensor table, data offsets.
//!
//! Layout (ggml `docs/gguf.md`): magic `GGUF`, u32 version, u64 tensor count, u64 metadata count,
//! the metadata key/values, the tensor infos (name, dims in ggml order = innermost first, type,
//! offset), then the tensor data, aligned to `general.alignment` (default 32).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

pub use super::gguf_types::{GgmlType, GgufMetadata, GgufTensorInfo, GgufValue};
use crate::{Error, Result};

/// A memory-mapped GGUF file with its parsed header.
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Header metadata.
    pub metadata: GgufMetadata,
    /// Tensor table, in file order.
    pub tensors: Vec<GgufTensorInfo>,
    mmap: Mmap,
}

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;

impl GgufFile {
    /// Maps and parses `path`; checks that every tensor of known type lies inside the file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        // SAFETY: read-only mapping; a file changed while mapped is outside the contract.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let (metadata, tensors) = parse(&mmap, &path.display().to_string())?;
        Ok(Self {
            path: path.to_path_buf(),
            metadata,
            tensors,
            mmap,
        })
    }

    /// The tensor called `name` (GGUF name).
    pub fn tensor(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor whose type has a known layout (checked inside the file at open).
    pub fn tensor_bytes(&self, info: &GgufTensorInfo) -> Result<&[u8]> {
        let len = info.byte_len().ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: tensor `{}` has type {} with dims {:?}",
                self.path.display(),
                info.name,
                info.ggml_type.name(),
                info.dims
            ))
        })?;
        self.mmap
            .get(info.offset..info.offset + len)
            .ok_or_else(|| {
                truncated(
                    &self.path.display().to_string(),
                    info.offset,
                    len,
                    &info.name,
                )
            })
    }
}

fn truncated(path: &str, offset: usize, need: usize, what: &str) -> Error {
    Error::Parse {
        location: format!("{path}: offset {offset}"),
        message: format!("file truncated: {what} needs {need} bytes there"),
    }
}

/// A bounds-checked little-endian reader that names the offset when the file ends early.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| truncated(self.path, self.pos, n, what))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length that must fit in what is left of the file (`unit` bytes per item at least),
    /// so a corrupt count fails here instead of in a huge allocation.
    fn count(&mut self, unit: usize, what: &str) -> Result<usize> {
        let at = self.pos;
        let n = self.u64(what)?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(unit as u64) > left {
            return Err(Error::Parse {
                location: format!("{}: offset {at}", self.path),
                message: format!("file truncated: {what} is {n} but only {left} bytes follow"),
            });
        }
        Ok(n as usize)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.count(1, what)?;
        Ok(String::from_utf8_lossy(self.take(n, what)?).into_owned())
    }

    fn value(&mut self, ty: u32, key: &str) -> Result<GgufValue> {
        Ok(match ty {
            0 => GgufValue::U8(self.array::<1>(key)?[0]),
            1 => GgufValue::I8(i8::from_le_bytes(self.array(key)?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.array(key)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array(key)?)),
            4 => GgufValue::U32(self.u32(key)?),
            5 => GgufValue::I32(i32::from_le_bytes(self.array(key)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array(key)?)),
            7 => GgufValue::Bool(self.array::<1>(key)?[0] != 0),
            8 => GgufValue::String(self.string(key)?),
            9 => {
                let at = self.pos;
                let item_ty = self.u32(key)?;
                if item_ty == 9 {
                    // The spec allows nested arrays, but no model file uses them; refusing keeps
                    // a corrupt file from recursing.
                    return Err(Error::Parse {
                        location: format!("{}: offset {at}, key `{key}`", self.path),
                        message: "nested arrays are not supported".into(),
                    });
                }
                let n = self.count(1, key)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(item_ty, key)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(self.u64(key)?),
            11 => GgufValue::I64(i64::from_le_bytes(self.array(key)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array(key)?)),
            other => {
                return Err(Error::Parse {
                    location: format!("{}: offset {}, key `{key}`", self.path, self.pos - 4),
                    message: format!("unknown metadata value type {other}"),
                })
            }
        })
    }
}

fn parse(buf: &[u8], path: &str) -> Result<(GgufMetadata, Vec<GgufTensorInfo>)> {
    let mut c = Cursor { buf, pos: 0, path };
    if &c.array::<4>("magic")? != MAGIC {
        return Err(Error::Parse {
            location: format!("{path}: offset 0"),
            message: "not a GGUF file (bad magic)".into(),
        });
    }
    let version = c.u32("version")?;
    if !(2..=3).contains(&version) {
        // A big-endian file reads as a huge version here; v1 used 32-bit counts.
        return Err(Error::Unsupported(format!(
            "{path}: GGUF version {version} (supported: 2, 3, little-endian)"
        )));
    }
    let n_tensors = c.count(8, "tensor count")?;
    let n_kv = c.count(8, "metadata count")?;
    let mut entries = BTreeMap::new();
    for _ in 0..n_kv {
        let key = c.string("metadata key")?;
        let ty = c.u32(&key)?;
        let value = c.value(ty, &key)?;
        entries.insert(key, value);
    }
    let metadata = GgufMetadata { version, entries };

    let mut infos = Vec::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let name = c.string("tensor name")?;
        let n_dims = c.u32(&name)? as usize;
        if n_dims > 8 {
            return Err(Error::Parse {
                location: format!("{path}: offset {}, tensor `{name}`", c.pos - 4),
                message: format!("{n_dims} dimensions"),
            });
        }
        let mut dims = Vec::with_capacity(n_dims);
        for _ in 0..n_dims {
            dims.push(c.u64(&name)? as usize);
        }
        let ggml_type = GgmlType::from_id(c.u32(&name)?);
        let offset = c.u64(&name)? as usize;
        infos.push(GgufTensorInfo {
            name,
            dims,
            ggml_type,
            offset,
        });
    }

    let alignment = metadata
        .get_u64("general.alignment")
        .unwrap_or(DEFAULT_ALIGNMENT);
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(Error::Parse {
            location: format!("{path}: general.alignment"),
            message: format!("{alignment} is not a power of two"),
        });
    }
    let alignment = alignment as usize;
    let data_start = c.pos.div_ceil(alignment) * alignment;
    for info in &mut infos {
        info.offset = data_start
            .checked_add(info.offset)
            .ok_or_else(|| truncated(path, usize::MAX, 0, &info.name))?;
        if let Some(len) = info.byte_len() {
            if info.offset.saturating_add(len) > buf.len() {
                return Err(truncated(
                    path,
                    info.offset,
                    len,
                    &format!("tensor `{}`", info.name),
                ));
            }
        }
    }
    Ok((metadata, infos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_header_names_the_offset() {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(1u64.to_le_bytes()); // one key/value announced, none present
        let err = parse(&bytes, "x.gguf").unwrap_err().to_string();
        assert!(
            err.contains("offset 16") && err.contains("metadata count is 1"),
            "{err}"
        );
        // A key whose string length runs past the end.
        bytes.extend(100u64.to_le_bytes());
        bytes.extend(b"abc");
        let err = parse(&bytes, "x.gguf").unwrap_err().to_string();
        assert!(
            err.contains("offset 24") && err.contains("metadata key is 100"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_magic_and_version() {
        assert!(parse(b"GGML\x03\0\0\0", "x")
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        let mut v1 = b"GGUF".to_vec();
        v1.extend(1u32.to_le_bytes());
        assert!(parse(&v1, "x")
            .unwrap_err()
            .to_string()
            .contains("version 1"));
    }
}
