//! Access to the `f32` buffers behind tensors of burn's CPU backend (flex), for the few
//! operations this crate computes with its own kernels (`few_rows`, `activation`).
//!
//! Model code stays generic over the backend: a tensor is recognised as flex at run time by
//! downcasting its primitive, and every caller falls back to burn's own operations when that
//! fails (other backends, autodiff tensors, other dtypes or layouts).

use std::any::Any;

use burn::tensor::{backend::Backend, DType, Tensor, TensorPrimitive};
use burn_flex::{FlexTensor, Layout};

/// The flex tensor behind `t` if it holds `f32`; `None` for any other backend or dtype.
pub(crate) fn flex_f32<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<FlexTensor> {
    let primitive = match t.clone().into_primitive() {
        TensorPrimitive::Float(p) => p,
        TensorPrimitive::QFloat(_) => return None,
    };
    let flex = (&primitive as &dyn Any).downcast_ref::<FlexTensor>()?;
    (flex.dtype() == DType::F32).then(|| flex.clone())
}

/// The row-major contents of `t` if it is contiguous.
pub(crate) fn contiguous_data(t: &FlexTensor) -> Option<&[f32]> {
    let len = t.layout().num_elements();
    t.is_contiguous()
        .then(|| &t.storage::<f32>()[t.layout().start_offset()..][..len])
}

/// The contents of a `[k, n]` tensor that is the transpose of a contiguous `[n, k]` one, as
/// that `[n, k]` row-major buffer.
pub(crate) fn transposed_data(t: &FlexTensor) -> Option<&[f32]> {
    let layout = t.layout();
    let shape = layout.shape();
    if shape.num_dims() != 2 {
        return None;
    }
    let (k, n) = (shape[0], shape[1]);
    (layout.strides() == [1, k as isize])
        .then(|| &t.storage::<f32>()[layout.start_offset()..][..k * n])
}

/// A row-major buffer as a tensor of backend `B` (which the caller has seen to be flex).
pub(crate) fn from_data<B: Backend, const D: usize>(
    data: Vec<f32>,
    shape: [usize; D],
) -> Option<Tensor<B, D>> {
    let tensor = FlexTensor::new(
        burn::tensor::Bytes::from_elems(data),
        Layout::contiguous(shape.into()),
        DType::F32,
    );
    let boxed: Box<dyn Any> = Box::new(tensor);
    let primitive = *boxed.downcast::<B::FloatTensorPrimitive>().ok()?;
    Some(Tensor::from_primitive(TensorPrimitive::Float(primitive)))
}

/// Writes `rows` (`[h, n, d]`, any layout) into positions `start..start + n` of axis 1 of
/// `target` (`[h, capacity, d]`) in place, when `target` is a contiguous `f32` flex tensor that
/// nobody else holds; otherwise hands `target` back untouched.
///
/// burn's `slice_assign` on flex 0.21 copies the whole destination on every call (its
/// `to_contiguous` returns a second handle to the buffer while the first is still alive, so the
/// copy-on-write always fires): appending one token to a KV cache chunk cost a copy of the chunk,
/// quadratic in the sequence length.
pub(crate) fn write_rows_in_place<B: Backend>(
    target: Tensor<B, 3>,
    start: usize,
    rows: &Tensor<B, 3>,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    let [h, capacity, d] = target.dims();
    let [rows_h, n, rows_d] = rows.dims();
    let Some(source) = flex_f32(rows) else {
        return Err(target);
    };
    if rows_h != h || rows_d != d || start + n > capacity {
        return Err(target);
    }
    let source = source.to_contiguous();
    let source = &source.storage::<f32>()[..h * n * d];
    let mut primitive = match target.into_primitive() {
        TensorPrimitive::Float(p) => p,
        other => return Err(Tensor::from_primitive(other)),
    };
    let written = match (&mut primitive as &mut dyn Any).downcast_mut::<FlexTensor>() {
        Some(flex) if flex.dtype() == DType::F32 && flex.is_contiguous() => {
            let whole = flex.layout().start_offset() == 0;
            match flex.try_storage_mut::<f32>() {
                Some(buffer) if whole && buffer.len() >= h * capacity * d => {
                    for head in 0..h {
                        let at = (head * capacity + start) * d;
                        buffer[at..at + n * d].copy_from_slice(&source[head * n * d..][..n * d]);
                    }
                    true
                }
                _ => false,
            }
        }
        _ => false,
    };
    let tensor = Tensor::from_primitive(TensorPrimitive::Float(primitive));
    if written {
        Ok(tensor)
    } else {
        Err(tensor)
    }
}
