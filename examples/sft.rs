//! SFT cold start on ShareGPT conversations: `cargo run --release --example sft -- --config
//! crates/arpo-train/configs/example.toml --model PATH --data sft.json [--resume]`. The options
//! are in `arpo::sft_cli::SftArgs`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    arpo::sft_cli::run_cli(std::env::args_os())
        .await
        .map(|_| ())
}
