//! Linear layers over many rows (prefill), on burn's CPU backend: the matrix-product crate's
//! single-threaded kernel over blocks of output columns that the pool's threads take in turn.
//!
//! burn's CPU backend calls the `gemm` crate with its own threading, which splits each
//! product into equal static shares per thread and waits at a barrier after every block of
//! the inner dimension. On a machine shared with other jobs, one of two threads often lags,
//! and the other then waits: in a 512-token SmolLM2 prefill, one thread sat idle ~10% of the
//! time, mostly inside the products. Here the threads take blocks of output columns one at a
//! time, so a lagging thread takes fewer of them, and there is no barrier until the product
//! ends.
//!
//! Blocks span every row: the weights (the right operand) are laid out for the kernel once
//! per block and never twice (`panels.rs`, or `gemm` on CPUs without AVX2), while the rows are
//! read in place by every block.

mod panels;
#[cfg(target_arch = "x86_64")]
mod tile_x86;

/// Output columns per block at least, and the step between block widths: the rows of the
/// matrix-product crate's register block on this CPU, which here spans output columns.
///
/// `gemm` turns a product with a row-major destination around (`outᵀ = wt · xᵀ`), so its
/// register block of `MR` rows covers output columns: 64 with AVX-512 (4 × 16 lanes), 16 with
/// AVX2 (2 × 8). A block whose width is not a multiple of that ends in a narrower kernel that
/// does the same loads for fewer multiply-adds: with 16-column steps on an AVX-512 CPU, a
/// fifth of a SmolLM2 prefill ran in those kernels, and 64-column steps made it ~8% faster.
fn min_block() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return 64;
        }
    }
    16
}

/// Multiply-adds below which a product stays one task: splitting a product that takes
/// microseconds costs more in hand-offs than it saves (the threshold burn's CPU backend uses to
/// thread its products, 192³).
const MIN_PARALLEL_WORK: usize = 192 * 192 * 192;

/// Output columns per block at most: a block of weights of up to 512 × 1536 `f32` (3 MB) stays
/// in the last-level cache while its rows pass.
const MAX_BLOCK: usize = 512;

/// `out[m, n] = x[m, k] · wtᵀ (+ bias[n])`, where `wt` is `[n, k]` row-major (the checkpoint
/// layout), all in `f32`.
pub fn many_rows(
    x: &[f32],
    m: usize,
    k: usize,
    wt: &[f32],
    n: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert_eq!(x.len(), m * k, "x is not [m, k]");
    assert_eq!(wt.len(), n * k, "wt is not [n, k]");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), n, "bias is not [n]");
    }
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    let dst = SharedPtr(out.as_mut_ptr());
    for_each_block(m, k, n, |start, width| {
        let dst = &dst;
        // SAFETY (both blocks): tasks write disjoint column ranges `start..start + width` of
        // the `m × n` allocation, at stride `n` between rows.
        if let Some(bias) = bias {
            for row in 0..m {
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        bias[start..].as_ptr(),
                        dst.0.add(row * n + start),
                        width,
                    )
                };
            }
        }
        unsafe {
            block_product(
                x,
                m,
                k,
                &wt[start * k..],
                width,
                dst.0.add(start),
                n,
                bias.is_some(),
            )
        };
    });
    // SAFETY: the tasks above wrote every element (`gemm` writes its whole destination when
    // told not to read it, zeros when `k` is 0).
    unsafe { out.set_len(m * n) };
    out
}

/// `silu(x · gate_wtᵀ) ⊙ (x · up_wtᵀ)`, the first half of a SwiGLU block, with both weights
/// `[n, k]` row-major: each task computes the same column block of both products and combines
/// them while they are in cache, so the two products are one hand-out to the pool and the
/// activation and the product of the halves cost no pass over memory of their own. Values
/// equal those of the two products, `activation::silu` and a multiplication done apart.
pub fn gated(x: &[f32], m: usize, k: usize, gate_wt: &[f32], up_wt: &[f32], n: usize) -> Vec<f32> {
    assert_eq!(x.len(), m * k, "x is not [m, k]");
    assert_eq!(gate_wt.len(), n * k, "gate_wt is not [n, k]");
    assert_eq!(up_wt.len(), n * k, "up_wt is not [n, k]");
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    let dst = SharedPtr(out.as_mut_ptr());
    for_each_block(m, k, n, |start, width| {
        let dst = &dst;
        let mut gate = vec![0.0f32; m * width];
        let mut up = vec![0.0f32; m * width];
        for (weights, block) in [(gate_wt, &mut gate), (up_wt, &mut up)] {
            // SAFETY: `block` is `[m, width]`; see `many_rows`.
            unsafe {
                block_product(
                    x,
                    m,
                    k,
                    &weights[start * k..],
                    width,
                    block.as_mut_ptr(),
                    width,
                    false,
                )
            };
        }
        let mut activated = vec![0.0f32; width];
        for row in 0..m {
            let at = row * width;
            crate::activation::kernel::silu_into(&gate[at..at + width], &mut activated);
            for (a, u) in activated.iter_mut().zip(&up[at..at + width]) {
                *a *= u;
            }
            // SAFETY: tasks write disjoint column ranges of the `m × n` allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(activated.as_ptr(), dst.0.add(row * n + start), width)
            };
        }
    });
    // SAFETY: the tasks above wrote every element.
    unsafe { out.set_len(m * n) };
    out
}

/// Runs `task(start, width)` over column blocks that cover `0..n` of an `[m, k] · [k, n]`
/// product, on every thread of the pool.
///
/// Blocks shrink as the product goes (guided self-scheduling): each is a share of what is
/// left, down to [`min_block`], and the threads take them in order from a shared counter. So
/// the threads end at most one small block apart. With equal blocks (and rayon's own split of
/// the list), a thread waited for the other's last block at the end of every product: ~4% of
/// a SmolLM2 prefill, seen as a thread with nothing to do.
fn for_each_block(m: usize, k: usize, n: usize, task: impl Fn(usize, usize) + Sync) {
    if m * n * k < MIN_PARALLEL_WORK {
        task(0, n);
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let min_block = min_block();
    let mut blocks = Vec::new();
    let mut start = 0;
    while start < n {
        let share = (n - start)
            .div_ceil(2 * threads)
            .next_multiple_of(min_block);
        let width = share.clamp(min_block, MAX_BLOCK).min(n - start);
        blocks.push((start, width));
        start += width;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take_blocks = || loop {
        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match blocks.get(index) {
            Some(&(start, width)) => task(start, width),
            None => break,
        }
    };
    rayon::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| take_blocks());
        }
        take_blocks();
    });
}

/// `dst[i, j] (+)= Σ_k x[i, k] · wt[j, k]` for `i < m`, `j < width`, where `dst` rows are
/// `dst_stride` apart and the sum is added to what `dst` holds when `accumulate`; one thread.
///
/// # Safety
/// `x` is `[m, k]` and `wt` at least `[width, k]`, row-major; `dst` points at `m` rows of
/// `width` writable values, `dst_stride` apart, that no one else touches meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn block_product(
    x: &[f32],
    m: usize,
    k: usize,
    wt: &[f32],
    width: usize,
    dst: *mut f32,
    dst_stride: usize,
    accumulate: bool,
) {
    debug_assert!(x.len() >= m * k && wt.len() >= width * k);
    if let Some(kernels) = panels::Kernels::detect().filter(|_| gemm_blocks(width, m, k)) {
        // SAFETY: the caller's contract; `detect` found the kernels' instructions.
        return unsafe {
            panels::block_product(kernels, x, m, k, wt, width, dst, dst_stride, accumulate)
        };
    }
    // SAFETY: the caller's contract; `wt`'s first `width` rows are read as the `[k, width]`
    // operand (unit stride along `k`, `k` between columns).
    unsafe {
        strided_product(
            [m, width, k],
            (dst, dst_stride as isize, 1),
            accumulate,
            (x.as_ptr(), k as isize, 1),
            (wt.as_ptr(), 1, k as isize),
        )
    }
}

/// Whether `gemm` computes this product (in its view: `width` rows, `m` columns, depth `k`)
/// with its blocked microkernels and cache blocking, which `panels.rs` reproduces; it takes
/// other routes for the shapes outside (dot-product kernels for at most 256 outputs, vector
/// kernels for one row or column or a depth of at most 2, another depth chunk when both sides
/// are at most 64), and those are left to it.
fn gemm_blocks(width: usize, m: usize, k: usize) -> bool {
    k > 2 && width > 1 && m > 1 && width * m > 16 * 16 && (width > 64 || m > 64)
}

/// An operand of [`strided_product`]: where its first element is, the step from one row to
/// the next, and the step from one column to the next (in elements).
pub(crate) type Strided<P> = (P, isize, isize);

/// `dst (+)= lhs · rhs` in `f32` on the calling thread for `[m, n, k]` = the shape of
/// `[m, k] · [k, n]`, each operand at its own strides: `gemm::gemm` without the scaling and
/// conjugation options this crate does not use. The sum is added to what `dst` holds when
/// `accumulate`; otherwise `dst` is only written.
///
/// # Safety
/// Each operand's elements lie in memory at its strides, and no one else touches `dst`'s
/// meanwhile.
pub(crate) unsafe fn strided_product(
    [m, n, k]: [usize; 3],
    dst: Strided<*mut f32>,
    accumulate: bool,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
) {
    // SAFETY: the caller's contract; `gemm` takes column strides before row strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.2,
            dst.1,
            accumulate,
            lhs.0,
            lhs.2,
            lhs.1,
            rhs.0,
            rhs.2,
            rhs.1,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// The output buffer, shared by tasks that write disjoint parts of it.
struct SharedPtr(*mut f32);
// SAFETY: only used for disjoint writes inside `many_rows`.
unsafe impl Sync for SharedPtr {}

/// [`many_rows`] on flex tensors: `x · weight (+ bias)` when `weight` is the transposed view
/// of a contiguous `[n, k]` buffer and `x` is contiguous; `None` otherwise.
pub(crate) fn product<B: burn::tensor::backend::Backend>(
    x: &burn::tensor::Tensor<B, 3>,
    weight: &burn::tensor::Tensor<B, 2>,
    bias: Option<&burn::tensor::Tensor<B, 1>>,
) -> Option<burn::tensor::Tensor<B, 3>> {
    use crate::flex_cpu::{contiguous_data, flex_f32, from_data, transposed_data};
    let [b, s, k] = x.dims();
    let n = weight.dims()[1];
    let x = flex_f32(x)?;
    let w = flex_f32(weight)?;
    let bias = match bias {
        Some(bias) => Some(flex_f32(bias)?),
        None => None,
    };
    let bias_data = match &bias {
        Some(t) => Some(contiguous_data(t)?),
        None => None,
    };
    let out = many_rows(
        contiguous_data(&x)?,
        b * s,
        k,
        transposed_data(&w)?,
        n,
        bias_data,
    );
    from_data(out, [b, s, n])
}

/// [`gated`] on flex tensors: `silu(x · gate) ⊙ (x · up)` for two bias-free layers whose
/// weights are transposed views of contiguous `[n, k]` buffers; `None` otherwise.
pub(crate) fn gated_product<B: burn::tensor::backend::Backend>(
    x: &burn::tensor::Tensor<B, 3>,
    gate: &burn::nn::Linear<B>,
    up: &burn::nn::Linear<B>,
) -> Option<burn::tensor::Tensor<B, 3>> {
    use crate::flex_cpu::{contiguous_data, flex_f32, from_data, transposed_data};
    if gate.bias.is_some() || up.bias.is_some() {
        return None;
    }
    let [b, s, k] = x.dims();
    let (gate_w, up_w) = (gate.weight.val(), up.weight.val());
    let n = gate_w.dims()[1];
    if up_w.dims() != [k, n] || gate_w.dims() != [k, n] {
        return None;
    }
    let x = flex_f32(x)?;
    let (gate_w, up_w) = (flex_f32(&gate_w)?, flex_f32(&up_w)?);
    let out = gated(
        contiguous_data(&x)?,
        b * s,
        k,
        transposed_data(&gate_w)?,
        transposed_data(&up_w)?,
        n,
    );
    from_data(out, [b, s, n])
}
