//! Forwards run on a thread of rayon's global pool, with the pool's other threads kept awake
//! for as long as the forward lasts.
//!
//! The CPU backend and this crate's kernels split each operation over that pool. Called from
//! any other thread, each of the hundreds of operations of a decoding step is handed to the
//! pool and waited for, a wake-up and a sleep each; from a pool thread they are joined in place
//! (greedy SmolLM2 decoding at batch 1: 29–32 → 33–34 tok/s). Other backends pay one thread
//! hop per call.
//!
//! Even so, between two operations the other threads ran out of work, went to sleep, and had
//! to be woken by a system call for the next one, a few tens of microseconds later: decoding
//! SmolLM2 at batch 16, one of two threads worked alone a quarter of the time, and a tenth of
//! the CPU time went to the kernel's scheduler. So on the CPU backend a forward also hands
//! each other thread a task that takes the forward's work as it appears (`rayon::yield_now`)
//! and spins while there is none, until the forward returns.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Whether a forward's frame is on this thread's stack.
    static IN_FORWARD: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` on a thread of rayon's global pool (in place when already on one), with the
/// pool's other threads kept awake meanwhile when `keep_awake`.
pub(crate) fn on_thread_pool<R: Send>(keep_awake: bool, work: impl FnOnce() -> R + Send) -> R {
    let done = AtomicBool::new(false);
    let mut out = None;
    rayon::scope(|scope| {
        let outer = IN_FORWARD.with(|f| f.replace(true));
        // Ends the keep-awake tasks and restores the flag even if `work` panics (the scope
        // waits for its tasks before it passes the panic on).
        let _guard = Finish { done: &done, outer };
        if keep_awake && !outer {
            for _ in 1..rayon::current_num_threads() {
                scope.spawn(|_| keep_awake_until(&done));
            }
        }
        out = Some(work());
    });
    out.expect("rayon::scope runs its closure before returning")
}

/// Sets `done` and restores this thread's [`IN_FORWARD`] when dropped.
struct Finish<'a> {
    done: &'a AtomicBool,
    outer: bool,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        IN_FORWARD.with(|f| f.set(self.outer));
    }
}

/// Runs the pool's pending work, and spins when there is none, until `done`.
///
/// A thread that has a forward of its own on its stack returns at once: a pool thread waiting
/// for work runs whatever task it finds, so the forward's own thread, or one running another
/// forward, may pick this task up, and spinning there would hold that forward until this one
/// ends (and two forwards holding each other's threads would never end).
fn keep_awake_until(done: &AtomicBool) {
    if IN_FORWARD.with(Cell::get) {
        return;
    }
    while !done.load(Ordering::Acquire) {
        if !matches!(rayon::yield_now(), Some(rayon::Yield::Executed)) {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use rayon::prelude::*;

    use super::on_thread_pool;

    /// Runs `f` on its own thread and fails if it has not returned within a minute: a hang is
    /// the failure these tests look for.
    fn within_a_minute<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || send.send(f()).expect("the test waits"));
        receive
            .recv_timeout(Duration::from_secs(60))
            .expect("forwards still running after a minute")
    }

    /// Forwards from more threads than the pool has, each with parallel work and a nested
    /// forward inside (the keep-awake tasks of one forward reach the threads of the others):
    /// all of them end, with the sums of the same work done serially. (The mutual hold that
    /// `keep_awake_until` guards against needs two threads to take each other's task at the
    /// same moment; with the guard removed, 8,000 forwards here still all ended, so this test
    /// checks the ordinary paths, not that one.)
    #[test]
    fn concurrent_and_nested_forwards_all_end() {
        let totals = within_a_minute(|| {
            let callers: Vec<_> = (0..4u64)
                .map(|i| {
                    std::thread::spawn(move || {
                        (0..50)
                            .map(|_| {
                                on_thread_pool(true, || {
                                    let outer: u64 =
                                        (0..1000u64).into_par_iter().map(|x| x * i).sum();
                                    let nested = on_thread_pool(true, || {
                                        (0..100u64).into_par_iter().sum::<u64>()
                                    });
                                    outer + nested
                                })
                            })
                            .sum::<u64>()
                    })
                })
                .collect();
            callers
                .into_iter()
                .map(|c| c.join().expect("no panic"))
                .collect::<Vec<u64>>()
        });
        for (i, total) in totals.into_iter().enumerate() {
            let serial: u64 =
                (0..1000u64).map(|x| x * i as u64).sum::<u64>() + (0..100u64).sum::<u64>();
            assert_eq!(total, 50 * serial, "caller {i}");
        }
    }

    /// A forward that panics passes the panic on and stops its keep-awake tasks: the next
    /// forward runs.
    #[test]
    fn a_panicking_forward_ends() {
        let after = within_a_minute(|| {
            let caught = std::panic::catch_unwind(|| {
                on_thread_pool(true, || -> u64 {
                    let _ = (0..1000u64).into_par_iter().sum::<u64>();
                    panic!("a forward fails")
                })
            });
            assert!(caught.is_err(), "the panic reaches the caller");
            on_thread_pool(true, || (0..10u64).into_par_iter().sum::<u64>())
        });
        assert_eq!(after, 45);
    }
}
