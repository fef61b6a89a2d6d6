//! A matrix kept in its GGUF block form, row by row, for kernels that stream weights: a Q4_1
//! row of SmolLM2 is 360 bytes instead of 2,304 in f32, so decoding reads ~6× fewer bytes from
//! memory and turns each row back into f32 just before use.
//!
//! Only the 32-value formats whose dequantisation is one multiply (and one add) per value are
//! kept: Q4_0, Q4_1 and Q8_0. Rows come back bit-identical to [`super::dequantize`], which the
//! loader uses for the f32 copy: the same float operations in the same order (Rust never fuses
//! `d * q + m` into one rounding), checked in the tests below.

use half::f16;

use super::gguf_file::GgmlType;
use crate::{Error, Result};

/// Values per block of every format kept here.
pub const BLOCK: usize = 32;

/// The block formats [`QuantRows`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// `{f16 d; u8 qs[16]}`, `x = d * (q - 8)`.
    Q4_0,
    /// `{f16 d; f16 m; u8 qs[16]}`, `x = d * q + m`.
    Q4_1,
    /// `{f16 d; i8 qs[32]}`, `x = d * q`.
    Q8_0,
}

impl RowFormat {
    /// The format of `ty`, if it is one kept here.
    pub fn of(ty: GgmlType) -> Option<Self> {
        match ty {
            GgmlType::Q4_0 => Some(Self::Q4_0),
            GgmlType::Q4_1 => Some(Self::Q4_1),
            GgmlType::Q8_0 => Some(Self::Q8_0),
            _ => None,
        }
    }

    /// Bytes per block of [`BLOCK`] values.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q8_0 => 34,
        }
    }
}

/// A `[rows, cols]` matrix as rows of quantisation blocks (each row `cols / 32` blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantRows {
    format: RowFormat,
    rows: usize,
    cols: usize,
    bytes: Vec<u8>,
}

impl QuantRows {
    /// Wraps `bytes` holding `rows` rows of `cols` values in `format`.
    pub fn new(format: RowFormat, rows: usize, cols: usize, bytes: Vec<u8>) -> Result<Self> {
        let expected = rows * (cols / BLOCK) * format.block_bytes();
        if !cols.is_multiple_of(BLOCK) || bytes.len() != expected {
            return Err(Error::Usage(format!(
                "{format:?} rows: {} bytes for {rows} rows of {cols} values (rows must be whole \
                 blocks of {BLOCK}; expected {expected} bytes)",
                bytes.len()
            )));
        }
        Ok(Self {
            format,
            rows,
            cols,
            bytes,
        })
    }

    /// Rows (outputs of a linear layer).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row (inputs of a linear layer).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The block format.
    pub fn format(&self) -> RowFormat {
        self.format
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.cols / BLOCK * self.format.block_bytes()
    }

    /// The stored bytes of rows `first..first + count` (clamped to the matrix).
    pub fn row_range_bytes(&self, first: usize, count: usize) -> &[u8] {
        let rb = self.row_bytes();
        let start = (first * rb).min(self.bytes.len());
        let end = ((first + count) * rb).min(self.bytes.len());
        &self.bytes[start..end]
    }

    /// Rows `first..first + count` as f32 into `out` (`count * cols` values, row-major).
    pub fn dequantize_rows(&self, first: usize, count: usize, out: &mut [f32]) {
        let src = self.row_range_bytes(first, count);
        let out = &mut out[..count * self.cols];
        assert_eq!(
            src.len() / self.format.block_bytes() * BLOCK,
            out.len(),
            "rows past the matrix"
        );
        #[cfg(target_arch = "x86_64")]
        {
            let f16c = std::arch::is_x86_feature_detected!("f16c");
            if f16c && std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F and F16C.
                return unsafe { x86::blocks_avx512(self.format, src, out) };
            }
            if f16c && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 and F16C.
                return unsafe { x86::blocks_avx2(self.format, src, out) };
            }
        }
        blocks_portable(self.format, src, out)
    }
}

/// Scale (and min) of a block.
fn scale_and_min(format: RowFormat, b: &[u8]) -> (f32, f32) {
    let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
    let m = match format {
        RowFormat::Q4_1 => f16::from_le_bytes([b[2], b[3]]).to_f32(),
        RowFormat::Q4_0 | RowFormat::Q8_0 => 0.0,
    };
    (d, m)
}

/// One value at a time, the loader's expressions (`quants.rs`) verbatim.
fn blocks_portable(format: RowFormat, src: &[u8], out: &mut [f32]) {
    for (b, y) in src
        .chunks_exact(format.block_bytes())
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let (d, m) = scale_and_min(format, b);
        match format {
            RowFormat::Q4_0 => {
                for j in 0..16 {
                    y[j] = d * ((b[2 + j] & 0x0F) as i32 - 8) as f32;
                    y[j + 16] = d * ((b[2 + j] >> 4) as i32 - 8) as f32;
                }
            }
            RowFormat::Q4_1 => {
                for j in 0..16 {
                    y[j] = d * (b[4 + j] & 0x0F) as f32 + m;
                    y[j + 16] = d * (b[4 + j] >> 4) as f32 + m;
                }
            }
            RowFormat::Q8_0 => {
                for j in 0..BLOCK {
                    y[j] = d * (b[2 + j] as i8) as f32;
                }
            }
        }
    }
}

/// Eight values per instruction (sixteen with AVX-512), each made with the same roundings as
/// the portable code: an exact integer-to-float conversion, one multiply, (Q4_1) one add.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{RowFormat, BLOCK};

    /// The scale and min as f32 with the conversion instruction (exact, as is `half`'s, which
    /// in software cost more than the rest of the block), each broadcast to 8 lanes.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn scale_and_min(b: &[u8]) -> (__m256, __m256) {
        let halves = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let both = _mm_cvtph_ps(_mm_cvtsi32_si128(halves));
        (
            _mm256_broadcastss_ps(both),
            _mm256_broadcastss_ps(_mm_movehdup_ps(both)),
        )
    }

    /// A Q4_0 or Q4_1 block's 16 low nibbles (its first 16 values) and 16 high nibbles (the
    /// next 16), one byte each.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn nibbles(b: &[u8], q4_1: bool) -> [__m128i; 2] {
        // SAFETY: a Q4_0 block has 18 bytes, a Q4_1 block 20: 16 bytes from 2 (4) are in it.
        let qs = unsafe { _mm_loadu_si128(b.as_ptr().add(if q4_1 { 4 } else { 2 }).cast()) };
        let low = _mm_set1_epi8(0x0F);
        [
            _mm_and_si128(qs, low),
            _mm_and_si128(_mm_srli_epi16::<4>(qs), low),
        ]
    }

    #[target_feature(enable = "avx2,f16c")]
    pub(super) unsafe fn blocks_avx2(format: RowFormat, src: &[u8], out: &mut [f32]) {
        let bb = format.block_bytes();
        for (b, y) in src.chunks_exact(bb).zip(out.chunks_exact_mut(BLOCK)) {
            // Q4_0 and Q8_0 have no min (their bytes 2..4 are values, never added).
            let (vd, vm) = scale_and_min(b);
            // SAFETY (loads and stores): each block has `bb` bytes, each output 32 floats.
            unsafe {
                match format {
                    RowFormat::Q4_0 | RowFormat::Q4_1 => {
                        let q4_1 = format == RowFormat::Q4_1;
                        let nibbles = nibbles(b, q4_1);
                        let offset = _mm256_set1_epi32(if q4_1 { 0 } else { 8 });
                        for (half, bytes) in nibbles.into_iter().enumerate() {
                            for (eighth, bytes) in
                                [bytes, _mm_srli_si128::<8>(bytes)].into_iter().enumerate()
                            {
                                let q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), offset);
                                let mut v = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(q));
                                if q4_1 {
                                    v = _mm256_add_ps(v, vm);
                                }
                                _mm256_storeu_ps(y.as_mut_ptr().add(half * 16 + eighth * 8), v);
                            }
                        }
                    }
                    RowFormat::Q8_0 => {
                        for eighth in 0..4 {
                            let q = _mm_loadl_epi64(b.as_ptr().add(2 + eighth * 8).cast());
                            let q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
                            _mm256_storeu_ps(y.as_mut_ptr().add(eighth * 8), _mm256_mul_ps(vd, q));
                        }
                    }
                }
            }
        }
    }

    /// [`blocks_avx2`] with 16-lane vectors: a block's 16 low and 16 high nibbles (Q4_0,
    /// Q4_1) or 2 × 16 bytes (Q8_0) each in one conversion. At batch 16, decoding the blocks
    /// took ~12% of a SmolLM2 step on an AVX-512 CPU with the 8-lane build.
    #[target_feature(enable = "avx512f,avx2,f16c")]
    pub(super) unsafe fn blocks_avx512(format: RowFormat, src: &[u8], out: &mut [f32]) {
        let bb = format.block_bytes();
        for (b, y) in src.chunks_exact(bb).zip(out.chunks_exact_mut(BLOCK)) {
            let (vd, vm) = scale_and_min(b);
            let (vd, vm) = (
                _mm512_broadcastss_ps(_mm256_castps256_ps128(vd)),
                _mm512_broadcastss_ps(_mm256_castps256_ps128(vm)),
            );
            // SAFETY (loads and stores): each block has `bb` bytes, each output 32 floats.
            unsafe {
                match format {
                    RowFormat::Q4_0 | RowFormat::Q4_1 => {
                        let q4_1 = format == RowFormat::Q4_1;
                        let nibbles = nibbles(b, q4_1);
                        // The 16 values a nibble stands for in this block, each made as the
                        // portable code makes it, then looked up: one permute per 16 values
                        // instead of a subtract, a conversion, a multiply and an add.
                        let offset = _mm512_set1_epi32(if q4_1 { 0 } else { 8 });
                        let nibble_values =
                            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
                        let levels = _mm512_sub_epi32(nibble_values, offset);
                        let mut table = _mm512_mul_ps(vd, _mm512_cvtepi32_ps(levels));
                        if q4_1 {
                            table = _mm512_add_ps(table, vm);
                        }
                        for (half, bytes) in nibbles.into_iter().enumerate() {
                            let v = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(bytes), table);
                            _mm512_storeu_ps(y.as_mut_ptr().add(half * 16), v);
                        }
                    }
                    RowFormat::Q8_0 => {
                        for half in 0..2 {
                            let q = _mm_loadu_si128(b.as_ptr().add(2 + half * 16).cast());
                            let q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
                            _mm512_storeu_ps(y.as_mut_ptr().add(half * 16), _mm512_mul_ps(vd, q));
                        }
                    }
                }
            }
        }
    }
}

/// Random-looking blocks of `format` with finite f16 scales (and mins), for tests.
#[cfg(test)]
pub(crate) fn test_blocks(format: RowFormat, n_blocks: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    };
    let mut bytes = Vec::new();
    for _ in 0..n_blocks {
        let mut block = vec![0u8; format.block_bytes()];
        for b in block.iter_mut() {
            *b = next();
        }
        let scale = f16::from_f32(0.01 + f32::from(next()) * 1e-3).to_le_bytes();
        block[..2].copy_from_slice(&scale);
        if format == RowFormat::Q4_1 {
            let min = f16::from_f32(-0.1 + f32::from(next()) * 1e-3).to_le_bytes();
            block[2..4].copy_from_slice(&min);
        }
        bytes.extend(block);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::dequantize;

    /// Against the loader's dequantisation (itself checked against gguf-py): every row range
    /// gives the same bits, by the vector path this CPU takes, by every x86 build it can run,
    /// and by the portable one.
    #[test]
    fn rows_equal_the_loaders_dequantisation_bit_for_bit() {
        for (format, ty) in [
            (RowFormat::Q4_0, GgmlType::Q4_0),
            (RowFormat::Q4_1, GgmlType::Q4_1),
            (RowFormat::Q8_0, GgmlType::Q8_0),
        ] {
            let (rows, cols) = (5, 96);
            let bytes = test_blocks(format, rows * cols / BLOCK, 7);
            let mut whole = vec![0.0f32; rows * cols];
            dequantize(ty, &bytes, &mut whole).unwrap();
            let q = QuantRows::new(format, rows, cols, bytes).unwrap();
            for (first, count) in [(0, rows), (1, 2), (4, 1)] {
                let mut out = vec![f32::NAN; count * cols];
                q.dequantize_rows(first, count, &mut out);
                let mut portable = vec![f32::NAN; count * cols];
                blocks_portable(format, q.row_range_bytes(first, count), &mut portable);
                let expected = &whole[first * cols..(first + count) * cols];
                let mut paths = vec![("dispatched", out), ("portable", portable)];
                // Each x86 build the CPU can run, not only the one dispatched.
                #[cfg(target_arch = "x86_64")]
                {
                    let src = q.row_range_bytes(first, count);
                    let f16c = std::arch::is_x86_feature_detected!("f16c");
                    if f16c && std::arch::is_x86_feature_detected!("avx2") {
                        let mut got = vec![f32::NAN; count * cols];
                        // SAFETY: the CPU has AVX2 and F16C.
                        unsafe { x86::blocks_avx2(format, src, &mut got) };
                        paths.push(("avx2", got));
                    }
                    if f16c && std::arch::is_x86_feature_detected!("avx512f") {
                        let mut got = vec![f32::NAN; count * cols];
                        // SAFETY: the CPU has AVX-512F and F16C.
                        unsafe { x86::blocks_avx512(format, src, &mut got) };
                        paths.push(("avx512", got));
                    }
                }
                for (path, got) in &paths {
                    assert!(
                        got.iter()
                            .zip(expected)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{format:?} {path} rows {first}..{}",
                        first + count
                    );
                }
            }
        }
    }

    #[test]
    fn partial_blocks_and_wrong_lengths_are_refused() {
        let err = QuantRows::new(RowFormat::Q8_0, 2, 40, vec![0; 68]).unwrap_err();
        assert!(err.to_string().contains("whole blocks"), "{err}");
        assert!(QuantRows::new(RowFormat::Q4_1, 2, 64, vec![0; 79]).is_err());
        assert!(RowFormat::of(GgmlType::Q6_K).is_none());
    }
}
