//! Dequantisation of ggml block formats to f32, following ggml's `dequantize_row_*` (ggml-quants.c)
//! block layouts exactly, with the same float operation order as gguf-py's `gguf.quants`, so the
//! results are bit-identical to it (checked against its output in `tests/weights_quants.rs`).

use half::f16;

use super::dtype::FloatDtype;
use super::gguf_file::GgmlType;
use crate::{Error, Result};

/// Elements in a K-quant super-block.
const QK_K: usize = 256;

/// Whether [`dequantize`] handles `ty`.
pub fn is_supported(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        ty,
        F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q4_K | Q5_K | Q6_K
    )
}

/// Dequantises `bytes` of type `ty` into `out` (`out.len()` values; a whole number of blocks).
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<()> {
    use GgmlType::*;
    let (block, block_bytes) = ty
        .block_layout()
        .filter(|_| is_supported(ty))
        .ok_or_else(|| Error::Unsupported(format!("dequantising {}", ty.name())))?;
    if !out.len().is_multiple_of(block) || bytes.len() != out.len() / block * block_bytes {
        return Err(Error::Usage(format!(
            "{}: {} bytes do not hold {} values in blocks of {block} / {block_bytes} bytes",
            ty.name(),
            bytes.len(),
            out.len()
        )));
    }
    let blocks = bytes
        .chunks_exact(block_bytes)
        .zip(out.chunks_exact_mut(block));
    match ty {
        F32 => FloatDtype::F32.convert(bytes, out),
        F16 => FloatDtype::F16.convert(bytes, out),
        BF16 => FloatDtype::Bf16.convert(bytes, out),
        Q4_0 => blocks.for_each(|(b, y)| q4_0(b, y)),
        Q4_1 => blocks.for_each(|(b, y)| q4_1(b, y)),
        Q5_0 => blocks.for_each(|(b, y)| q5_0(b, y)),
        Q5_1 => blocks.for_each(|(b, y)| q5_1(b, y)),
        Q8_0 => blocks.for_each(|(b, y)| q8_0(b, y)),
        Q4_K => blocks.for_each(|(b, y)| q4_k(b, y)),
        Q5_K => blocks.for_each(|(b, y)| q5_k(b, y)),
        Q6_K => blocks.for_each(|(b, y)| q6_k(b, y)),
        _ => unreachable!("filtered by is_supported"),
    }
    Ok(())
}

fn half(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `{f16 d; u8 qs[16]}`: low nibbles are values 0..16, high nibbles 16..32; `x = d * (q - 8)`.
fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        y[j] = d * ((qs[j] & 0x0F) as i32 - 8) as f32;
        y[j + 16] = d * ((qs[j] >> 4) as i32 - 8) as f32;
    }
}

/// `{f16 d; f16 m; u8 qs[16]}`: `x = d * q + m`.
fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    let qs = &b[4..20];
    for j in 0..16 {
        y[j] = d * (qs[j] & 0x0F) as f32 + m;
        y[j + 16] = d * (qs[j] >> 4) as f32 + m;
    }
}

/// The fifth bits of Q5_0 / Q5_1: bit `j` of the little-endian u32 belongs to value `j`.
fn fifth_bit(qh: u32, j: usize) -> u8 {
    (((qh >> j) & 1) as u8) << 4
}

/// `{f16 d; u8 qh[4]; u8 qs[16]}`: `x = d * (q - 16)` with a 5-bit q.
fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let lo = (qs[j] & 0x0F) | fifth_bit(qh, j);
        let hi = (qs[j] >> 4) | fifth_bit(qh, j + 16);
        y[j] = d * (lo as i32 - 16) as f32;
        y[j + 16] = d * (hi as i32 - 16) as f32;
    }
}

/// `{f16 d; f16 m; u8 qh[4]; u8 qs[16]}`: `x = d * q + m` with a 5-bit q.
fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let lo = (qs[j] & 0x0F) | fifth_bit(qh, j);
        let hi = (qs[j] >> 4) | fifth_bit(qh, j + 16);
        y[j] = d * lo as f32 + m;
        y[j + 16] = d * hi as f32 + m;
    }
}

/// `{f16 d; i8 qs[32]}`: `x = d * q`.
fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    for (j, &q) in b[2..34].iter().enumerate() {
        y[j] = d * (q as i8) as f32;
    }
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8) packed in 12 bytes.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// `{f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}`: 8 sub-blocks of 32; `x = d*sc * q - dmin*m`.
fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (half(b, 0), half(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    // Each 32-byte chunk of qs holds two sub-blocks: low nibbles, then high nibbles.
    for chunk in 0..QK_K / 64 {
        let q = &qs[chunk * 32..chunk * 32 + 32];
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, min1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, min2) = (d * sc2 as f32, dmin * m2 as f32);
        let out = &mut y[chunk * 64..chunk * 64 + 64];
        for l in 0..32 {
            out[l] = d1 * (q[l] & 0x0F) as f32 - min1;
            out[l + 32] = d2 * (q[l] >> 4) as f32 - min2;
        }
    }
}

/// `{f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}`: as Q4_K plus a fifth bit per value
/// from `qh` (bit `2*chunk` for the low-nibble sub-block, `2*chunk+1` for the high one).
fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (half(b, 0), half(b, 2));
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for chunk in 0..QK_K / 64 {
        let ql = &qs[chunk * 32..chunk * 32 + 32];
        let (u1, u2) = (1u8 << (2 * chunk), 2u8 << (2 * chunk));
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, min1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, min2) = (d * sc2 as f32, dmin * m2 as f32);
        let out = &mut y[chunk * 64..chunk * 64 + 64];
        for l in 0..32 {
            let hi1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let hi2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            out[l] = d1 * ((ql[l] & 0x0F) + hi1) as f32 - min1;
            out[l + 32] = d2 * ((ql[l] >> 4) + hi2) as f32 - min2;
        }
    }
}

/// `{u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}`: 16 sub-blocks of 16 with 6-bit values
/// (4 low bits in `ql`, 2 high bits in `qh`); `x = d*sc * (q - 32)`.
fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = half(b, 208);
    for half_block in 0..2 {
        let ql = &b[half_block * 64..half_block * 64 + 64];
        let qh = &b[128 + half_block * 32..128 + half_block * 32 + 32];
        let sc = &b[192 + half_block * 8..192 + half_block * 8 + 8];
        let out = &mut y[half_block * 128..half_block * 128 + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            let scale = |k: usize| d * (sc[is + k] as i8) as f32;
            out[l] = scale(0) * q1 as f32;
            out[l + 32] = scale(2) * q2 as f32;
            out[l + 64] = scale(4) * q3 as f32;
            out[l + 96] = scale(6) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_block_by_hand() {
        // d = 0.5 (f16 0x3800), values -128, 1, 127, then zeros.
        let mut b = vec![0x00, 0x38, 0x80, 0x01, 0x7F];
        b.resize(34, 0);
        let mut y = [1.0f32; 32];
        dequantize(GgmlType::Q8_0, &b, &mut y).unwrap();
        assert_eq!(&y[..4], &[-64.0, 0.5, 63.5, 0.0]);
    }

    #[test]
    fn q4_1_block_by_hand() {
        // d = 1, m = -8: the nibble values 0..15 become -8..7.
        let mut b = vec![0x00, 0x3C, 0x00, 0xC8];
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let mut y = [0.0f32; 32];
        dequantize(GgmlType::Q4_1, &b, &mut y).unwrap();
        assert_eq!(y[0], -8.0);
        assert_eq!(y[15], 7.0);
        assert_eq!(y[16], 7.0);
        assert_eq!(y[31], -8.0);
    }

    #[test]
    fn rejects_unsupported_types_and_bad_lengths() {
        let mut y = [0.0f32; 256];
        let err = dequantize(GgmlType::Q2_K, &[0; 84], &mut y)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Q2_K"), "{err}");
        assert!(dequantize(GgmlType::Q4_K, &[0; 143], &mut y).is_err());
    }
}
