//! Concurrent autodiff work in one process keeps every gradient when it goes through
//! `arpo_train::autodiff_section`. The property checked: a parameter that the loss depends on
//! always has a gradient. burn-autodiff 0.21 breaks it without the lock (tracel-ai/burn#5573):
//! a `backward()` that finishes on one thread can sweep the graph another thread is building
//! on a parameter that went through an earlier `backward()`; `cat` widens that window.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor};

type B = Autodiff<Flex>;

const THREADS: usize = 4;
const ROUNDS: usize = 150;
const SIZE: usize = 512;

/// One thread's training-like loop on its own parameter (an op on it, then `cat`, then
/// `backward()`); returns how many rounds lost the parameter's gradient.
fn rounds(locked: bool) -> usize {
    let device = Default::default();
    let param: Tensor<B, 2> =
        Tensor::random([SIZE, SIZE], Distribution::Normal(0.0, 0.5), &device).require_grad();
    let mut lost = 0;
    for _ in 0..ROUNDS {
        let _graphs = locked.then(arpo_train::autodiff_section);
        let other = Tensor::<B, 2>::ones([SIZE, SIZE], &device);
        let scaled = param.clone().mul_scalar(2.0);
        let loss = Tensor::cat(vec![scaled, other], 0).sum();
        let grads = loss.backward();
        if param.grad(&grads).is_none() {
            lost += 1;
        }
    }
    lost
}

/// Small graphs and their `backward()`, as fast as possible, until `stop`: each `backward()`
/// ends with the sweep over every graph of the process.
fn sweeps(locked: bool, stop: &std::sync::atomic::AtomicBool) {
    let device = Default::default();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let _graphs = locked.then(arpo_train::autodiff_section);
        let x: Tensor<B, 1> = Tensor::ones([4], &device).require_grad();
        let _ = x.clone().mul(x).sum().backward();
    }
}

/// Runs the threads; the two tests of this file take turns, since unlocked threads would also
/// sweep the locked test's graphs.
fn lost_gradients(locked: bool) -> usize {
    static ONE_TEST_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_TEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let stop = &stop;
        let sweepers: Vec<_> = (0..THREADS)
            .map(|_| scope.spawn(move || sweeps(locked, stop)))
            .collect();
        let victims: Vec<_> = (0..THREADS)
            .map(|_| scope.spawn(move || rounds(locked)))
            .collect();
        let lost = victims.into_iter().map(|h| h.join().unwrap()).sum();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sweepers.into_iter().for_each(|h| h.join().unwrap());
        lost
    })
}

#[test]
fn threads_that_take_turns_through_the_autodiff_section_keep_every_gradient() {
    let lost = lost_gradients(true);
    assert_eq!(
        lost,
        0,
        "{lost} of {} rounds lost a gradient",
        THREADS * ROUNDS
    );
}

/// The control: the same work without the lock loses gradients (146 of 600 rounds in one run
/// here). Ignored because it asserts burn's bug, not ours: when it starts to pass, burn has
/// fixed #5573 and the section may go. `cargo test -p arpo-train --test autodiff_lock -- --ignored`
#[test]
#[ignore]
fn without_the_section_burn_0_21_loses_gradients() {
    let lost = lost_gradients(false);
    eprintln!(
        "without the lock, {lost} of {} rounds lost a gradient",
        THREADS * ROUNDS
    );
    assert!(lost > 0);
}
