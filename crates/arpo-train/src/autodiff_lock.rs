//! One process-wide, re-entrant lock around the work that builds or consumes autodiff graphs
//! (the loss forward, `backward()`, the optimiser step).
//!
//! burn-autodiff 0.21 keeps a single registry of graphs for the whole process, and every
//! `backward()` ends by sweeping the graphs it believes unused. A graph that another thread is
//! building at that moment can look unused for the length of one op, and is then swept: a
//! parameter silently comes back with no gradient (tracel-ai/burn#5573; seen here as one failed
//! gradient test in ~60 runs of a test binary whose tests ran on two threads). Two trainings in
//! one process (the quickstart trains ARPO and GRPO side by side) therefore take turns for their
//! updates. Rollouts and evaluation run on the inner backend, build no graph and stay concurrent.
//!
//! Re-entrant, so that code which already holds the section (a test that builds a loss by hand
//! and then calls a training function) does not deadlock on itself.

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};

/// Held while a thread builds or consumes autodiff graphs; see [`autodiff_section`].
pub type AutodiffSection = ReentrantMutexGuard<'static, ()>;

static GRAPHS: ReentrantMutex<()> = ReentrantMutex::new(());

/// Waits until no other thread is inside an autodiff section, and enters one.
///
/// Hold the returned guard around every stretch of code that runs autodiff ops or
/// `backward()` on a thread while other threads of the same process may do the same; arpo-train's
/// own update loops (`run_rl`, `run_sft`) already do.
pub fn autodiff_section() -> AutodiffSection {
    GRAPHS.lock()
}
