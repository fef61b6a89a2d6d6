//! Model throughput on CPU: prefill (512 tokens, logits for every position) and greedy decode
//! with the KV cache at batch 1 and 16, for arpo-model and, in the same run, PyTorch
//! (transformers) on the same GGUF file; prints the figures and the ratios.
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
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Freed buffers stay in the heap for the next forward (see `arpo::allocator`).
#[global_allocator]
static ALLOCATOR: arpo::allocator::RetainingAllocator = arpo::allocator::RetainingAllocator;

fn main() -> Result<()> {
    let args = Args::parse();
    let device = Default::default();
    let model = load_model::<Inference>(&args.model, 1024, &device)
        .with_context(|| format!("{}", args.model.display()))?;
    let vocab = model.vocab_size();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut random_ids =
        |n: usize| -> Vec<u32> { (0..n).map(|_| rng.random_range(0..vocab as u32)).collect() };

    let ids: Vec<i64> = random_ids(512).into_iter().map(i64::from).collect();
    let tokens = Tensor::<Inference, 2, Int>::from_data(TensorData::new(ids, [1, 512]), &device);
    let _ = model.forward(tokens.clone())?.into_data();
    let prefill = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let _ = model.forward(tokens.clone()).map(|l| l.into_data());
                512.0 / t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let mut ours = vec![("prefill_tok_s", prefill)];
    for (batch, new) in [(1usize, 64usize), (16, 32)] {
        let prompts: Vec<Vec<u32>> = (0..batch).map(|_| random_ids(32)).collect();
        let config = GenerateConfig {
            sampling: SamplingConfig::greedy(),
            max_new_tokens: new + 1,
            stop_tokens: vec![],
        };
        let (_, timings) = generate(&model, &prompts, &vec![0; batch], &config)?;
        ours.push((
            if batch == 1 {
                "decode_b1_tok_s"
            } else {
                "decode_b16_tok_s"
            },
            timings.decode_tokens_per_sec(),
        ));
    }
    let peer: Option<serde_json::Value> = match &args.python {
        Some(py) => {
            let out = Command::new(py)
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
            Some(serde_json::from_slice(
                out.stdout
                    .rsplit(|&b| b == b'\n')
                    .find(|l| !l.is_empty())
                    .unwrap_or(b"{}"),
            )?)
        }
        None => None,
    };
    println!(
        "{:<18} {:>14} {:>14} {:>8}",
        "measure",
        format!("arpo ({NAME})"),
        "pytorch",
        "ratio"
    );
    for (name, value) in ours {
        let theirs = peer.as_ref().and_then(|p| p[name].as_f64());
        println!(
            "{name:<18} {value:>14.1} {:>14} {:>8}",
            theirs.map_or("-".into(), |t| format!("{t:.1}")),
            theirs.map_or("-".into(), |t| format!("{:.2}x", value / t))
        );
    }
    Ok(())
}
