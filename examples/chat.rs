//! Ask one question; the model answers with real tool calls (sandboxed Python, BM25 search), and
//! the rollout tree is printed and written as a self-contained HTML page. `--help` lists the
//! options; `arpo::chat` documents the invocations (SmolLM2 over a Wikipedia index, the
//! quickstart's trained policy over its generated corpus).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    arpo::chat::run_cli(std::env::args_os()).await.map(|_| ())
}
