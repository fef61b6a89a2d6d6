//! Model throughput on CPU: prefill (512 tokens, logits for every position) and greedy decode
//! with the KV cache at batch 1 and 16, for arpo-model and, in the same run, PyTorch
//! (transformers) on the same GGUF file; prints the figures and the ratios.
//!
//! The two sides alternate over `--rounds` rounds (ours, then PyTorch, then ours, ...), and each
//! figure is the median over rounds with its range: on a machine shared with other jobs the
//! load drifts over minutes, and one run of each side after the other moved ratios by ±25%.
//!
//! ```text
//! scripts/fetch-smollm2.sh
//! cargo run --release --example bench_model -- --python /path/to/python-with-torch
//! cargo run --release --no-default-features --features ndarray --example bench_model   # other CPU backend
//! ```

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use arpo::backend::{Inference, NAME};
use arpo::model::{generate, load_model, GenerateConfig, SamplingConfig};
use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: PathBuf,
    /// Python with torch + transformers for the peer figures; skipped when absent.
    #[arg(long)]
    python: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Alternating rounds of both sides; figures are medians over rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Freed buffers stay in the heap for the next forward (see `arpo::allocator`).
#[global_allocator]
static ALLOCATOR: arpo::allocator::RetainingAllocator = arpo::allocator::RetainingAllocator;

/// The measures, in print order.
const MEASURES: [&str; 3] = ["prefill_tok_s", "decode_b1_tok_s", "decode_b16_tok_s"];

fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let device = Default::default();
    let model = load_model::<Inference>(&args.model, 1024, &device)
        .with_context(|| format!("{}", args.model.display()))?;
    let mut ours: Vec<Vec<f64>> = vec![Vec::new(); MEASURES.len()];
    let mut theirs: Vec<Vec<f64>> = vec![Vec::new(); MEASURES.len()];
    for round in 0..args.rounds {
        for (figures, value) in ours.iter_mut().zip(measure_ours(&model, round as u64)?) {
            figures.push(value);
        }
        if let Some(py) = &args.python {
            let peer = measure_pytorch(py, &args)?;
            for (figures, name) in theirs.iter_mut().zip(MEASURES) {
                let value = peer[name]
                    .as_f64()
                    .with_context(|| format!("PyTorch benchmark output lacks {name}"))?;
                figures.push(value);
            }
        }
        eprintln!("round {}/{} done", round + 1, args.rounds);
    }
    println!(
        "{:<18} {:>22} {:>22} {:>8}",
        "measure",
        format!("arpo ({NAME})"),
        "pytorch",
        "ratio"
    );
    let shown = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        format!("{:.1} ({lo:.1}-{hi:.1})", median(v.to_vec()))
    };
    for ((name, ours), theirs) in MEASURES.iter().zip(&ours).zip(&theirs) {
        let (peer, ratio) = if theirs.is_empty() {
            ("-".into(), "-".into())
        } else {
            (
                shown(theirs),
                format!("{:.2}x", median(ours.clone()) / median(theirs.clone())),
            )
        };
        println!("{name:<18} {:>22} {peer:>22} {ratio:>8}", shown(ours));
    }
    println!(
        "(median over {} alternating rounds, range in brackets; ratio of the medians)",
        args.rounds
    );
    Ok(())
}

/// Our three figures, in [`MEASURES`] order; `round` varies the random prompts.
fn measure_ours(model: &arpo::model::CausalLm<Inference>, round: u64) -> Result<Vec<f64>> {
    let device = model.device();
    let vocab = model.vocab_size();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(round);
    let mut random_ids =
        |n: usize| -> Vec<u32> { (0..n).map(|_| rng.random_range(0..vocab as u32)).collect() };
    let ids: Vec<i64> = random_ids(512).into_iter().map(i64::from).collect();
    let tokens = Tensor::<Inference, 2, Int>::from_data(TensorData::new(ids, [1, 512]), &device);
    let _ = model.forward(tokens.clone())?.into_data();
    let mut prefill = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let _ = model.forward(tokens.clone())?.into_data();
        prefill.push(512.0 / t.elapsed().as_secs_f64());
    }
    let mut figures = vec![median(prefill)];
    for (batch, new) in [(1usize, 64usize), (16, 32)] {
        let prompts: Vec<Vec<u32>> = (0..batch).map(|_| random_ids(32)).collect();
        let config = GenerateConfig {
            sampling: SamplingConfig::greedy(),
            max_new_tokens: new + 1,
            stop_tokens: vec![],
        };
        let (_, timings) = generate(model, &prompts, &vec![0; batch], &config)?;
        figures.push(timings.decode_tokens_per_sec());
    }
    Ok(figures)
}

/// One run of the PyTorch script: its JSON object (the last line it prints).
fn measure_pytorch(python: &PathBuf, args: &Args) -> Result<serde_json::Value> {
    let out = Command::new(python)
        .args([
            "scripts/bench/torch_smollm2.py",
            &args.model.display().to_string(),
            &args.threads.to_string(),
        ])
        .output()
        .context("running the PyTorch benchmark")?;
    anyhow::ensure!(
        out.status.success(),
        "PyTorch benchmark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(
        out.stdout
            .rsplit(|&b| b == b'\n')
            .find(|l| !l.is_empty())
            .unwrap_or(b"{}"),
    )?)
}
