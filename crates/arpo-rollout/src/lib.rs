//! arpo-rollout (work in progress).
