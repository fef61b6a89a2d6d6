//! Seeded draws on a ChaCha8 stream, written out here rather than taken from `rand`'s
//! distributions so that the generated data depend only on the ChaCha8 output stream (which
//! `rand_chacha` keeps stable) and stay the same bit for bit across `rand` releases.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded source of uniform draws.
pub(crate) struct Draw {
    rng: ChaCha8Rng,
}

impl Draw {
    /// The stream for `seed`; `stream` separates independent uses of one seed (facts, questions,
    /// demonstrations) so that changing one part's draw count does not shift the others.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self { rng }
    }

    /// Uniform in `0..n` (rejection sampling, no modulo bias); 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        // Largest multiple of n that fits in u64: draws at or above it are rejected.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.rng.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo) + 1;
        lo.wrapping_add(self.below(span) as i64)
    }

    /// Index uniform in `0..len`.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// One element of a non-empty slice (`None` for an empty one).
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.index(items.len()))
    }

    /// True with probability `p` (clamped to 0..=1), resolved to 1/2^32.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        let p = p.clamp(0.0, 1.0);
        let threshold = (p * 4_294_967_296.0) as u64;
        u64::from(self.rng.next_u32()) < threshold
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut d = Draw::new(3, 0);
        let mut seen = [false; 7];
        for _ in 0..2000 {
            let x = d.range(-3, 3);
            assert!((-3..=3).contains(&x));
            seen[(x + 3) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "every value of -3..=3 drawn");
        assert_eq!(d.range(5, 5), 5);
        assert_eq!(d.below(0), 0);
        assert!(d.pick::<u8>(&[]).is_none());
        assert!(!d.chance(0.0));
        assert!(d.chance(1.0));
    }

    #[test]
    fn streams_differ_and_repeat() {
        let take = |seed, stream| {
            let mut d = Draw::new(seed, stream);
            (0..8).map(|_| d.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(take(1, 0), take(1, 0));
        assert_ne!(take(1, 0), take(1, 1));
        assert_ne!(take(1, 0), take(2, 0));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<u32> = (0..50).collect();
        Draw::new(9, 0).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(
            v, sorted,
            "50 items left in order by a shuffle: 1/50! chance"
        );
    }
}
