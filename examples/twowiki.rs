//! Evaluates a model on 2WikiMultiHopQA (multi-hop QA, search tool, token F1 / EM), with the paper's settings.
//!
//! ```text
//! cargo run --release --example twowiki -- --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf --index .cache/wiki-index \
//!     --limit 50 --samples 1 --seed 0
//! ```
//!
//! `--help` lists every option (`--server URL` for a vLLM/SGLang server, `--data FILE`, ...).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    arpo::benchmark::main(arpo::eval::Benchmark::TwoWiki).await
}
