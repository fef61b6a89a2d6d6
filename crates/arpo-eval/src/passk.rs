//! The unbiased pass@k estimator of Chen et al. (2021): with `n` samples of which `c` are
//! correct, pass@k = 1 − C(n−c, k) / C(n, k), computed as a product that never forms the
//! binomials (stable for large `n`).

use crate::{Error, Result};

/// Unbiased pass@k for one question.
///
/// `1 - Π_{i=n-c+1}^{n} (1 - k/i)`; exactly 1 when fewer than `k` samples are wrong.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Result<f64> {
    if k == 0 || k > n || c > n {
        return Err(Error::Config(format!(
            "pass@k needs 1 <= k <= n and c <= n (n = {n}, c = {c}, k = {k})"
        )));
    }
    if n - c < k {
        return Ok(1.0);
    }
    let miss: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    Ok(1.0 - miss)
}

/// Mean pass@k over questions, each given as `(n, c)`.
pub fn mean_pass_at_k(counts: &[(usize, usize)], k: usize) -> Result<f64> {
    if counts.is_empty() {
        return Err(Error::Config("pass@k of no questions".into()));
    }
    let total = counts
        .iter()
        .map(|&(n, c)| pass_at_k(n, c, k))
        .sum::<Result<f64>>()?;
    Ok(total / counts.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed() {
        // n=5, c=2, k=1: 1 - C(3,1)/C(5,1) = 1 - 3/5.
        assert!(close(pass_at_k(5, 2, 1).unwrap_or(f64::NAN), 0.4));
        // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
        assert!(close(pass_at_k(5, 2, 2).unwrap_or(f64::NAN), 0.7));
        // n=10, c=3, k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252.
        assert!(close(
            pass_at_k(10, 3, 5).unwrap_or(f64::NAN),
            1.0 - 21.0 / 252.0
        ));
        // n=4, c=1, k=4: one correct among all four drawn.
        assert!(close(pass_at_k(4, 1, 4).unwrap_or(f64::NAN), 1.0));
        assert!(close(pass_at_k(4, 0, 2).unwrap_or(f64::NAN), 0.0));
        // k = 1 is the plain accuracy c/n.
        assert!(close(pass_at_k(1000, 337, 1).unwrap_or(f64::NAN), 0.337));
        assert!(pass_at_k(3, 1, 4).is_err());
        assert!(pass_at_k(3, 4, 1).is_err());
        assert!(close(
            mean_pass_at_k(&[(5, 2), (5, 0)], 1).unwrap_or(f64::NAN),
            0.2
        ));
    }

    #[test]
    fn large_n_is_stable() {
        // n = 2000, c = 1000, k = 100: the exact value 1 - C(1000,100)/C(2000,100) is 1 - ~1e-31.
        let p = pass_at_k(2000, 1000, 100).unwrap_or(f64::NAN);
        assert!(p.is_finite() && p > 1.0 - 1e-12 && p <= 1.0);
    }
}
