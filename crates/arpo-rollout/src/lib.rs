//! arpo-rollout (work in progress).

pub mod render;
