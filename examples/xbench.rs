//! Evaluates a model on xbench-DeepSearch (deep search, search + Python, LLM judge), with the paper's settings.
//!
//! ```text
//! cargo run --release --example xbench -- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf --index .cache/wiki-index \
//!     --judge-url http://localhost:8001/v1 \
//!     --limit 50 --samples 1 --seed 0
//! ```
//!
//! `--help` lists every option (`--server URL` for a vLLM/SGLang server, `--data FILE`, ...).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    arpo::benchmark::main(arpo::eval::Benchmark::Xbench).await
}
