//! RL of a tool-using model on a dataset: `cargo run --release --example train -- --config
//! crates/arpo-train/configs/example.toml --model PATH --data train_10k.parquet [--val-data
//! valid.parquet] [--index DIR] [--resume]`. The options are in `arpo::rl_cli::TrainArgs`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    arpo::rl_cli::run_cli(std::env::args_os()).await.map(|_| ())
}
