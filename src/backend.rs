//! The backend the examples run on, chosen by Cargo feature (never by code edits).
//!
//! `cuda` wins over `wgpu`, which wins over the CPU backends; the CPU default is `flex`.

#[cfg(feature = "cuda")]
mod chosen {
    /// Inference backend.
    pub type Inference = burn::backend::Cuda;
    /// Human-readable name, printed by the examples.
    pub const NAME: &str = "cuda";
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
mod chosen {
    /// Inference backend.
    pub type Inference = burn::backend::Wgpu;
    /// Human-readable name, printed by the examples.
    pub const NAME: &str = "wgpu";
}

#[cfg(all(feature = "flex", not(any(feature = "cuda", feature = "wgpu"))))]
mod chosen {
    /// Inference backend.
    pub type Inference = burn::backend::Flex;
    /// Human-readable name, printed by the examples.
    pub const NAME: &str = "flex (CPU)";
}

#[cfg(all(
    feature = "ndarray",
    not(any(feature = "cuda", feature = "wgpu", feature = "flex"))
))]
mod chosen {
    /// Inference backend.
    pub type Inference = burn::backend::NdArray;
    /// Human-readable name, printed by the examples.
    pub const NAME: &str = "ndarray (CPU)";
}

#[cfg(not(any(
    feature = "cuda",
    feature = "wgpu",
    feature = "flex",
    feature = "ndarray"
)))]
compile_error!("enable one backend feature: flex (default), ndarray, cuda or wgpu");

pub use chosen::{Inference, NAME};

/// Training backend: the inference backend with autodiff.
pub type Training = burn::backend::Autodiff<Inference>;
