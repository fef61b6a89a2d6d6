//! Conversion of little-endian F32 / F16 / BF16 bytes to f32, shared by the safetensors and GGUF
//! readers.

use half::{bf16, f16};

/// A dense float encoding of a checkpoint tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatDtype {
    F32,
    F16,
    Bf16,
}

impl FloatDtype {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::Bf16 => 2,
        }
    }

    /// Converts `bytes` (exactly `out.len() * self.size()` of them) into `out`.
    ///
    /// Both half formats widen to f32 exactly, so the result does not depend on rounding.
    pub(crate) fn convert(self, bytes: &[u8], out: &mut [f32]) {
        debug_assert_eq!(bytes.len(), out.len() * self.size());
        match self {
            Self::F32 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            Self::F16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
            Self::Bf16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = bf16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_formats_widen_to_known_values() {
        // 1.0 is 0x3C00 in IEEE half and 0x3F80 in bfloat16; -2.5 is 0xC100 / 0xC020.
        let mut out = [0.0f32; 2];
        FloatDtype::F16.convert(&[0x00, 0x3C, 0x00, 0xC1], &mut out);
        assert_eq!(out, [1.0, -2.5]);
        FloatDtype::Bf16.convert(&[0x80, 0x3F, 0x20, 0xC0], &mut out);
        assert_eq!(out, [1.0, -2.5]);
        let mut one = [0.0f32; 1];
        FloatDtype::F32.convert(&0.1f32.to_le_bytes(), &mut one);
        assert_eq!(one, [0.1]);
    }
}
