//! Seed derivation: every trajectory's random streams derive from the rollout seed and the
//! trajectory's place in the tree, never from timing or batch order.

/// SplitMix64 finaliser: a well-mixed 64-bit hash.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of prompt `prompt` in a batch seeded with `batch_seed`.
pub fn prompt_seed(batch_seed: u64, prompt: usize) -> u64 {
    mix(batch_seed ^ mix(prompt as u64 + 1))
}

/// Sampling seed of the `index`-th global trajectory of a prompt (refills continue the count).
pub fn global_seed(prompt_seed: u64, index: usize) -> u64 {
    mix(prompt_seed.wrapping_add(mix(index as u64 + 1)))
}

/// Sampling seed of copy `copy` made at the `decision`-th branch decision of a trajectory.
pub fn copy_seed(parent_seed: u64, decision: usize, copy: usize) -> u64 {
    mix(parent_seed ^ mix(((decision as u64) << 32) | (copy as u64 + 1)))
}

/// Seed of a trajectory's branch-decision stream (separate from its sampling stream, so that
/// turning branching off leaves the sampled tokens unchanged).
pub fn decision_seed(sampling_seed: u64) -> u64 {
    mix(sampling_seed ^ 0xD1B5_4A32_D192_ED03)
}
