//! Tests of the few-row kernels and of `product`'s dispatch against a float64 reference.

use super::kernel::{few_rows, few_rows_transposed};

/// Uniform values in [-0.5, 0.5) from a fixed linear congruential sequence.
pub(crate) fn values(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// `w[k, n]` as `[n, k]`: the layout checkpoints store weights in.
fn transposed(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut wt = vec![0.0f32; n * k];
    for kk in 0..k {
        for j in 0..n {
            wt[j * k + kk] = w[kk * n + j];
        }
    }
    wt
}

/// `x[m, k] · w[k, n] + bias` by a plain triple loop in f64: the independent reference.
fn reference(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, bias: Option<&[f32]>) -> Vec<f64> {
    let mut out = vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut sum = bias.map_or(0.0, |b| b[j] as f64);
            for kk in 0..k {
                sum += x[i * k + kk] as f64 * w[kk * n + j] as f64;
            }
            out[i * n + j] = sum;
        }
    }
    out
}

fn assert_close(got: &[f32], want: &[f64], k: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tolerance = 1e-5 * (1.0 + w.abs()) * (k as f64).sqrt();
        assert!(
            (g as f64 - w).abs() <= tolerance,
            "{what} [{i}]: {g} vs {w}"
        );
    }
}

/// Both kernels against the f64 reference, for row counts around the register groups,
/// widths that do not fill a tile or a column group, `k` not a multiple of the vector
/// width, with and without bias.
#[test]
fn kernels_match_a_float64_reference() {
    for (m, k, n) in [
        (1, 7, 5),
        (3, 64, 130),
        (4, 33, 64),
        (5, 100, 200),
        (16, 576, 192),
    ] {
        let x = values(1, m * k);
        let w = values(2, k * n);
        let bias = values(3, n);
        let wt = transposed(&w, k, n);
        for bias in [None, Some(&bias[..])] {
            let want = reference(&x, m, k, &w, n, bias);
            let what = format!("m{m} k{k} n{n} bias {}", bias.is_some());
            assert_close(
                &few_rows(&x, m, k, &w, n, bias),
                &want,
                k,
                &format!("tiles {what}"),
            );
            assert_close(
                &few_rows_transposed(&x, m, k, &wt, n, bias),
                &want,
                k,
                &format!("dots {what}"),
            );
        }
    }
}

/// The many-row product (prefill) against the f64 reference: one task (a product below the
/// threading threshold), and many tasks whose last column block is partial, with and without
/// bias.
#[cfg(feature = "flex")]
#[test]
fn many_rows_matches_a_float64_reference() {
    use crate::many_rows::many_rows;

    for (m, k, n) in [(1, 7, 5), (130, 33, 70), (300, 576, 200)] {
        let x = values(7, m * k);
        let w = values(8, k * n);
        let bias = values(9, n);
        let wt = transposed(&w, k, n);
        for bias in [None, Some(&bias[..])] {
            let want = reference(&x, m, k, &w, n, bias);
            let what = format!("m{m} k{k} n{n} bias {}", bias.is_some());
            assert_close(&many_rows(&x, m, k, &wt, n, bias), &want, k, &what);
        }
    }
}

/// The fused first half of a SwiGLU block over many rows against `silu(g) · u` in f64 from
/// the reference products, for one task and for many with a partial last block.
#[cfg(feature = "flex")]
#[test]
fn gated_matches_a_float64_reference() {
    use crate::many_rows::gated;

    for (m, k, n) in [(3, 20, 9), (300, 160, 200)] {
        let x = values(12, m * k);
        let (gate, up) = (values(13, k * n), values(14, k * n));
        let (g, u) = (
            reference(&x, m, k, &gate, n, None),
            reference(&x, m, k, &up, n, None),
        );
        let want: Vec<f64> = g
            .iter()
            .zip(&u)
            .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
            .collect();
        let got = gated(
            &x,
            m,
            k,
            &transposed(&gate, k, n),
            &transposed(&up, k, n),
            n,
        );
        assert_close(&got, &want, k, &format!("gated m{m} k{k} n{n}"));
    }
}

/// `product` on flex, with the weight as a transposed view (as loaded from a checkpoint)
/// and contiguous (as burn initialises it), below, inside and above the few-row kernels' row
/// range (above it, the view goes to the many-row product), for a weight above and one below `MIN_WEIGHTS`, against the f64 reference.
#[cfg(feature = "flex")]
#[test]
fn product_matches_the_reference_for_both_weight_layouts() {
    use burn::backend::Flex;
    use burn::tensor::{Tensor, TensorData};

    let device = Default::default();
    for (k, n) in [(260, 270), (40, 70)] {
        assert_eq!(
            k * n >= super::MIN_WEIGHTS,
            k == 260,
            "one size on each side"
        );
        let w = values(4, k * n);
        let bias = values(5, n);
        let wt = transposed(&w, k, n);
        let contiguous = Tensor::<Flex, 2>::from_data(TensorData::new(w.clone(), [k, n]), &device);
        let view = Tensor::<Flex, 2>::from_data(TensorData::new(wt, [n, k]), &device).transpose();
        let bias_t = Tensor::<Flex, 1>::from_data(TensorData::new(bias.clone(), [n]), &device);
        for rows in [1, 2, 7, super::MAX_ROWS + 3] {
            let x = values(6, rows * k);
            let want = reference(&x, rows, k, &w, n, Some(&bias));
            let x_t = Tensor::<Flex, 3>::from_data(TensorData::new(x, [1, rows, k]), &device);
            for (name, weight) in [("contiguous", &contiguous), ("view", &view)] {
                let got = super::product(x_t.clone(), weight.clone(), Some(bias_t.clone()));
                let got: Vec<f32> = got.into_data().to_vec().unwrap();
                assert_close(&got, &want, k, &format!("{name} {k}x{n}, {rows} rows"));
            }
        }
    }
}

/// Weights kept in GGUF block form against the f32 dot kernel on the same weights made f32:
/// the same bits (same values, same sums in the same order), for each block format, row
/// counts around the register groups, and widths that leave partial column groups and blocks.
#[test]
fn quantised_rows_give_the_bits_of_their_f32_weights() {
    use crate::weights::quant_rows::test_blocks;
    use crate::weights::{QuantRows, RowFormat};

    for format in [RowFormat::Q4_0, RowFormat::Q4_1, RowFormat::Q8_0] {
        for (m, k, n) in [(1, 64, 70), (3, 96, 130), (16, 576, 150), (17, 32, 9)] {
            let q = QuantRows::new(format, n, k, test_blocks(format, n * k / 32, 9)).unwrap();
            let mut wt = vec![0.0f32; n * k];
            q.dequantize_rows(0, n, &mut wt);
            let x = values(10, m * k);
            let bias = values(11, n);
            for bias in [None, Some(&bias[..])] {
                let got = super::kernel::few_rows_quantised(&x, m, k, &q, bias);
                let want = few_rows_transposed(&x, m, k, &wt, n, bias);
                let differ = got
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a.to_bits() != b.to_bits());
                assert!(
                    differ.is_none(),
                    "{format:?} m{m} k{k} n{n} bias {}: [{}] {} vs {}",
                    bias.is_some(),
                    differ.unwrap(),
                    got[differ.unwrap()],
                    want[differ.unwrap()]
                );
            }
        }
    }
}

/// Each x86 dot kernel this CPU can run, not only the one `few_rows` picks (on an AVX-512
/// CPU the AVX2 kernel is otherwise never run): against the f64 reference, for row counts
/// around both units' register groups, `k` not a multiple of 16 and widths that leave a
/// partial column group; and the quantised form of each unit against its f32 form, bit for bit.
#[cfg(target_arch = "x86_64")]
#[test]
fn every_x86_dot_kernel_matches_the_reference() {
    use super::dot_x86;
    use crate::weights::quant_rows::test_blocks;
    use crate::weights::{QuantRows, RowFormat};

    type Dot = fn(&[f32], usize, usize, &[f32], usize, &mut [f32]);
    type QuantisedDot = fn(&[f32], usize, usize, &QuantRows, usize, usize, &mut [f32]);
    let mut units: Vec<(&str, Dot, QuantisedDot)> = Vec::new();
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        units.push(("avx2", dot_x86::dot_avx2, dot_x86::dot_quantised_avx2));
    }
    if std::arch::is_x86_feature_detected!("avx512f") {
        units.push(("avx512", dot_x86::dot_avx512, dot_x86::dot_quantised_avx512));
    }
    for (unit, dot, quantised_dot) in units {
        for (m, k, width) in [
            (1, 7, 5),
            (2, 33, 9),
            (3, 40, 13),
            (4, 64, 8),
            (5, 100, 6),
            (6, 48, 12),
            (16, 576, 10),
        ] {
            let x = values(20, m * k);
            let wt = values(21, width * k);
            let mut got = vec![0.0f32; m * width];
            dot(&x, m, k, &wt, width, &mut got);
            let w = transposed(&wt, width, k);
            let want = reference(&x, m, k, &w, width, None);
            assert_close(&got, &want, k, &format!("{unit} m{m} k{k} width{width}"));
        }
        let (m, k, width) = (16, 96, 11);
        let q = QuantRows::new(
            RowFormat::Q4_1,
            width,
            k,
            test_blocks(RowFormat::Q4_1, width * k / 32, 5),
        )
        .unwrap();
        let mut wt = vec![0.0f32; width * k];
        q.dequantize_rows(0, width, &mut wt);
        let x = values(22, m * k);
        let (mut from_blocks, mut from_f32) = (vec![0.0f32; m * width], vec![0.0f32; m * width]);
        quantised_dot(&x, m, k, &q, 0, width, &mut from_blocks);
        dot(&x, m, k, &wt, width, &mut from_f32);
        let same = from_blocks
            .iter()
            .zip(&from_f32)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{unit}: quantised rows differ from their f32 weights");
    }
}
