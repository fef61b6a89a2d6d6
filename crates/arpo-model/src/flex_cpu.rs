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
