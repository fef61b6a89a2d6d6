//! Weights loaded from GGUF blocks, kept in that form beside their f32 tensor so that decoding
//! streams ~6× fewer bytes (`few_rows::kernel::few_rows_quantised`).
//!
//! The f32 tensor stays the model's parameter: training, prefill and every other backend use it.
//! The block form is found again from the tensor's buffer, so the model's types and records do
//! not change: a table maps the address of the flex tensor's shared buffer to its blocks. Each
//! entry holds a weak handle on that buffer, which keeps its allocation from being reused while
//! the entry lives and, as burn-flex writes in place only through `Arc::get_mut` /
//! `Arc::make_mut`, makes every in-place write move the values to a new buffer: a weight that
//! an optimiser changed is no longer found, and the f32 path computes with the new values.
//! Entries whose buffer is gone are dropped whenever a weight is kept.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use burn::tensor::{backend::Backend, Bytes, Tensor};
use burn_flex::FlexTensor;

use crate::flex_cpu::flex_f32;
use crate::weights::QuantRows;

struct Kept {
    buffer: Weak<Bytes>,
    rows: Arc<QuantRows>,
}

static KEPT: LazyLock<Mutex<HashMap<usize, Kept>>> = LazyLock::new(Default::default);

fn table() -> std::sync::MutexGuard<'static, HashMap<usize, Kept>> {
    // The table holds no invariant a panicking thread could break half-way.
    KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps `rows` (the `[out, in]` blocks) for `weight`, a flex tensor whose buffer holds the
/// same matrix in f32; does nothing on other backends.
pub(crate) fn keep<B: Backend, const D: usize>(weight: &Tensor<B, D>, rows: QuantRows) {
    let Some(flex) = flex_f32(weight) else {
        return;
    };
    let buffer = flex.data_arc();
    let mut kept = table();
    kept.retain(|_, k| k.buffer.strong_count() > 0);
    kept.insert(
        Arc::as_ptr(&buffer) as usize,
        Kept {
            buffer: Arc::downgrade(&buffer),
            rows: Arc::new(rows),
        },
    );
}

/// The blocks kept for the buffer behind `weight`, if any.
pub(crate) fn kept_rows(weight: &FlexTensor) -> Option<Arc<QuantRows>> {
    let buffer = weight.data_arc();
    let kept = table();
    let entry = kept.get(&(Arc::as_ptr(&buffer) as usize))?;
    Weak::ptr_eq(&entry.buffer, &Arc::downgrade(&buffer)).then(|| entry.rows.clone())
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::{Tensor, TensorData};

    use crate::weights::quant_rows::test_blocks;
    use crate::weights::{QuantRows, RowFormat};

    const K: usize = 288;
    const N: usize = 256;

    fn rows_of(seed: u32) -> QuantRows {
        let format = RowFormat::Q8_0;
        QuantRows::new(format, N, K, test_blocks(format, N * K / 32, seed)).unwrap()
    }

    fn f32_of(q: &QuantRows) -> Vec<f32> {
        let mut w = vec![0.0f32; N * K];
        q.dequantize_rows(0, N, &mut w);
        w
    }

    fn product_of(x: &Tensor<Flex, 3>, weight: &Tensor<Flex, 2>) -> Vec<f32> {
        crate::few_rows::product(x.clone(), weight.clone(), None)
            .into_data()
            .to_vec()
            .unwrap()
    }

    /// Blocks of a *different* matrix are kept for a weight, so that the two paths give
    /// different numbers and the test can tell which one ran: the kept blocks serve the weight
    /// as loaded, and no longer once it has changed, in place or into a new buffer.
    #[test]
    fn blocks_serve_the_loaded_weight_and_not_a_changed_one() {
        assert!(N * K >= crate::few_rows::MIN_WEIGHTS);
        let device = Default::default();
        let (loaded, other) = (rows_of(1), rows_of(2));
        let as_tensor = |w: Vec<f32>| {
            Tensor::<Flex, 2>::from_data(TensorData::new(w, [N, K]), &device).transpose()
        };
        let x = Tensor::<Flex, 3>::from_data(
            TensorData::new(
                (0..4 * K)
                    .map(|i| (i * 37 % 101) as f32 * 0.01 - 0.5)
                    .collect::<Vec<f32>>(),
                [1, 4, K],
            ),
            &device,
        );
        let plain = product_of(&x, &as_tensor(f32_of(&loaded)));
        let from_other = product_of(&x, &as_tensor(f32_of(&other)));
        assert!(!same(&plain, &from_other));

        let weight = as_tensor(f32_of(&loaded));
        super::keep(&weight, other);
        let served = product_of(&x, &weight);
        assert!(
            same(&served, &from_other),
            "the kept blocks serve the weight"
        );
        // A product over a new buffer may run another kernel (other rounding), hence `same`.
        let moved = product_of(&x, &weight.clone().mul_scalar(1.0));
        assert!(
            same(&moved, &plain),
            "a new buffer is not served from the blocks"
        );
        // The only handle: burn-flex may write in place, which must leave the blocks behind.
        let changed = product_of(&x, &weight.add_scalar(0.0));
        assert!(
            same(&changed, &plain),
            "an in-place write leaves the blocks"
        );
    }

    /// Equal up to f32 rounding of the sums (the two matrices' products differ by far more).
    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-3 * (1.0 + y.abs()))
    }
}
