//! Evaluates a model on MATH500 (math, Python tool, math equivalence), with the paper's settings.
//!
//! ```text
//! cargo run --release --example math500 -- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --limit 50 --samples 1 --seed 0
//! ```
//!
//! `--help` lists every option (`--server URL` for a vLLM/SGLang server, `--data FILE`, ...).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    arpo::benchmark::main(arpo::eval::Benchmark::Math500).await
}
