//! The progress bar every long job shows (SFT steps, RL steps): one style for the quickstart and
//! the training examples.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps labelled `what`, with elapsed time, ETA and a message; drawn nowhere
/// when `hidden` (the per-step lines still print).
pub fn step_bar(len: u64, what: &str, hidden: bool) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>5} [{{bar:30}}] {{pos}}/{{len}} {{elapsed_precise}} eta {{eta}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    if hidden {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb
}
