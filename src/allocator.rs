//! An allocator for programs that run models and no tool processes: the system allocator,
//! told once to keep freed memory for reuse.
//!
//! A forward allocates and frees buffers of megabytes (scores, activations, logits) at every
//! layer. glibc's malloc serves blocks above its mmap threshold with fresh `mmap`s and returns
//! freed memory at the top of its heap to the system, so every such buffer came back as new
//! zeroed pages: page faults took about a fifth of a SmolLM2 prefill. With mmap off and trimming
//! put out of reach, freed blocks stay in the heap and the next forward reuses them
//! (`examples/bench_model`: prefill ~320 → ~400 tok/s on 2 cores). The price is that the
//! resident size stays at its peak, as with the caching allocators of GPU frameworks.
//!
//! The retained heap has a cost where a process starts others: `fork` copies the page tables
//! of everything mapped, so with a heap kept at its peak every sandboxed tool call (bubblewrap
//! started as another user, which rules out `posix_spawn`) cost milliseconds, a quarter of the
//! quickstart's time. So programs opt in one by one with `#[global_allocator]`: the model
//! benchmarks and `generate` do; the quickstart, training and the benchmark harness, which run
//! tools, do not.
//!
//! Only glibc is tuned; elsewhere this is the system allocator unchanged. Library crates of the
//! workspace do not set an allocator: an application that links them chooses its own.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator with freed memory kept for reuse (see the module documentation).
pub struct RetainingAllocator;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn configure_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CONFIGURED: AtomicBool = AtomicBool::new(false);
    if !CONFIGURED.load(Ordering::Relaxed) && !CONFIGURED.swap(true, Ordering::Relaxed) {
        // SAFETY: `mallopt` only changes malloc's tuning parameters; it takes malloc's own lock
        // and is valid to call at any time, before or after other allocations.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn configure_once() {}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for RetainingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        configure_once();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        configure_once();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
