//! The branch rule of ARPO (arpo.md §2) and AEPO's options, as small pure functions.
//!
//! A path whose entropy rises after a tool result branches: with α ~ U(0, 1) it branches when
//! `(α + β·ΔH)·(1 − p·l) > τ` (p·l is AEPO's consecutive-branch penalty, 0 in plain ARPO).

use crate::config::ArpoConfig;

/// Mean entropy of a window of tokens, divided by ln |V| when `normalize` is set.
pub fn window_entropy(entropies: &[f32], vocab_size: usize, normalize: bool) -> Option<f64> {
    if entropies.is_empty() {
        return None;
    }
    let mean = entropies.iter().map(|&h| h as f64).sum::<f64>() / entropies.len() as f64;
    Some(if normalize {
        mean / (vocab_size as f64).ln()
    } else {
        mean
    })
}

fn penalty_factor(config: &ArpoConfig, consecutive: usize) -> f64 {
    (1.0 - config.aepo.consecutive_penalty * consecutive as f64).max(0.0)
}

/// Whether the draw `alpha` (uniform in [0, 1)) branches a path with entropy change `delta`
/// after `consecutive` consecutive branching decisions.
pub fn branches(alpha: f64, delta: f64, config: &ArpoConfig, consecutive: usize) -> bool {
    (alpha + config.entropy_weight * delta) * penalty_factor(config, consecutive) > config.threshold
}

/// The probability that [`branches`] is true over α ~ U(0, 1): `clip(1 − τ/m + β·ΔH, 0, 1)`
/// with `m = 1 − p·l` (plain ARPO: `clip(1 − τ + β·ΔH, 0, 1)`).
pub fn branch_probability(delta: f64, config: &ArpoConfig, consecutive: usize) -> f64 {
    let m = penalty_factor(config, consecutive);
    if m <= 0.0 {
        return 0.0;
    }
    (1.0 - config.threshold / m + config.entropy_weight * delta).clamp(0.0, 1.0)
}

/// AEPO's entropy pre-check: global samples `round(M · σ(gain · (H_root − H_tool)))` in [1, M].
pub fn precheck_global_samples(
    total: usize,
    root_entropy: f64,
    tool_entropy: f64,
    gain: f64,
) -> usize {
    let sigma = 1.0 / (1.0 + (-gain * (root_entropy - tool_entropy)).exp());
    ((total as f64 * sigma).round() as usize).clamp(1, total.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn probability_is_the_frequency_of_the_rule() {
        let mut config = ArpoConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (delta, penalty, l) in [
            (0.0, 0.0, 0),
            (0.8, 0.0, 0),
            (-1.0, 0.0, 0),
            (0.5, 0.05, 3),
            (3.0, 0.0, 0),
        ] {
            config.aepo.consecutive_penalty = penalty;
            let n = 40_000;
            let hits = (0..n)
                .filter(|_| branches(rng.random::<f64>(), delta, &config, l))
                .count();
            let p = branch_probability(delta, &config, l);
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-9;
            assert!(
                (hits as f64 / n as f64 - p).abs() <= tol,
                "delta {delta}: {hits}/{n} vs {p}"
            );
        }
    }

    #[test]
    fn reference_values_give_even_odds_without_entropy_change() {
        let config = ArpoConfig::default();
        assert!((branch_probability(0.0, &config, 0) - 0.5).abs() < 1e-12);
        assert!((branch_probability(1.0, &config, 0) - 0.7).abs() < 1e-12);
        assert_eq!(branch_probability(-5.0, &config, 0), 0.0);
    }

    #[test]
    fn consecutive_penalty_lowers_the_probability() {
        let mut config = ArpoConfig::default();
        config.aepo.consecutive_penalty = 0.05;
        let p: Vec<f64> = (0..5)
            .map(|l| branch_probability(0.5, &config, l))
            .collect();
        assert!(p.windows(2).all(|w| w[1] < w[0]), "{p:?}");
    }

    #[test]
    fn window_entropy_normalises_by_log_vocab() {
        let h = window_entropy(&[1.0, 2.0, 3.0], 100, true).unwrap();
        assert!((h - 2.0 / 100f64.ln()).abs() < 1e-12);
        assert_eq!(window_entropy(&[], 100, true), None);
    }

    #[test]
    fn precheck_sets_globals_between_one_and_total() {
        assert_eq!(precheck_global_samples(16, 1.0, 1.0, 0.5), 8);
        assert!(precheck_global_samples(16, 5.0, 0.0, 0.5) > 8);
        assert!(precheck_global_samples(16, 0.0, 5.0, 0.5) < 8);
        assert_eq!(precheck_global_samples(16, -100.0, 100.0, 0.5), 1);
    }
}
