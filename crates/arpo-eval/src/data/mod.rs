//! Benchmark data: the registry of evaluation sets (one [`Benchmark`] enum with its data) and the
//! loaders for their JSON-lines files and for the verl-layout RL parquet files.
//!
//! Every loader returns `Vec<arpo_core::Task>`; a malformed line or row is an error that names the
//! file, the line (or row) and the field.

mod jsonl;
mod rl;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use arpo_core::{Domain, Task};

use crate::{Error, Result};

pub use jsonl::{load_jsonl, GoldFormat, RowLayout};
pub use rl::{load_verl_parquet, repair_escape_defects, RlData};

/// How a benchmark's answers are scored by default (as in the paper, §6 of docs/arpo.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Math equivalence of the extracted answer with the gold answer.
    MathEquivalence,
    /// Token F1 and exact match after the reference normalisation.
    TokenF1,
    /// An LLM judge (Correct / Incorrect); string metrics are reported beside it.
    LlmJudge,
}

/// The evaluation sets of the paper (13) plus SimpleQA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Benchmark {
    /// AIME 2024 (30 problems).
    Aime24,
    /// AIME 2025 (30 problems).
    Aime25,
    /// MATH500 (500 problems).
    Math500,
    /// GSM8K test (1319 problems); gold is the number after `####`.
    Gsm8k,
    /// The MATH test set (not in the reference snapshot; same layout as MATH500).
    Math,
    /// HotpotQA (200 sampled questions).
    HotpotQa,
    /// 2WikiMultiHopQA (200 sampled questions).
    TwoWiki,
    /// MuSiQue (200 sampled questions).
    Musique,
    /// Bamboogle (125 questions).
    Bamboogle,
    /// GAIA text-only validation questions (103).
    Gaia,
    /// Humanity's Last Exam (500 in the file, 100 text-only used in the paper).
    Hle,
    /// WebWalkerQA (200, mostly Chinese).
    WebWalker,
    /// xbench-DeepSearch (Chinese).
    Xbench,
    /// SimpleQA (500 sampled questions).
    SimpleQa,
}

/// Static facts about a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchmarkInfo {
    /// Short name used in file names, results and on the command line (`gsm8k`).
    pub name: &'static str,
    /// Task family.
    pub domain: Domain,
    /// Default metric.
    pub metric: Metric,
    /// Path of the data file relative to a benchmarks folder (`gsm8k/test.jsonl`).
    pub default_file: &'static str,
    /// Where the question, answer and id live in each JSON line.
    pub layout: RowLayout,
}

const QUESTION: &[&str] = &["question"];
const PROBLEM: &[&str] = &["problem", "question"];
const ANSWER: &[&str] = &["answer"];
const ID: &[&str] = &["id"];
const NO_ID: &[&str] = &[];

const fn plain(question: &'static [&'static str], id: &'static [&'static str]) -> RowLayout {
    RowLayout {
        question,
        answer: ANSWER,
        id,
        gold: GoldFormat::Verbatim,
    }
}

impl Benchmark {
    /// Every benchmark, in the order of the paper's tables.
    pub const ALL: [Benchmark; 14] = [
        Benchmark::Aime24,
        Benchmark::Aime25,
        Benchmark::Math500,
        Benchmark::Gsm8k,
        Benchmark::Math,
        Benchmark::HotpotQa,
        Benchmark::TwoWiki,
        Benchmark::Musique,
        Benchmark::Bamboogle,
        Benchmark::Gaia,
        Benchmark::Hle,
        Benchmark::WebWalker,
        Benchmark::Xbench,
        Benchmark::SimpleQa,
    ];

    /// The registry: static facts and row layout of each benchmark.
    pub const fn info(self) -> BenchmarkInfo {
        use Domain::{DeepSearch, Knowledge, Math};
        use Metric::{LlmJudge, MathEquivalence, TokenF1};
        let (name, domain, metric, default_file, layout) = match self {
            Benchmark::Aime24 => (
                "aime24",
                Math,
                MathEquivalence,
                "aime24/test.jsonl",
                plain(PROBLEM, ID),
            ),
            Benchmark::Aime25 => (
                "aime25",
                Math,
                MathEquivalence,
                "aime25/test.jsonl",
                plain(PROBLEM, ID),
            ),
            Benchmark::Math500 => (
                "math500",
                Math,
                MathEquivalence,
                "math500/test.jsonl",
                plain(PROBLEM, ID),
            ),
            Benchmark::Gsm8k => (
                "gsm8k",
                Math,
                MathEquivalence,
                "gsm8k/test.jsonl",
                RowLayout {
                    question: QUESTION,
                    answer: ANSWER,
                    id: &["idx"],
                    gold: GoldFormat::AfterHashes,
                },
            ),
            Benchmark::Math => (
                "math",
                Math,
                MathEquivalence,
                "math/test.jsonl",
                // Hendrycks' MATH as published on the hub: `problem`, `answer`, `unique_id`.
                plain(PROBLEM, &["id", "unique_id"]),
            ),
            Benchmark::HotpotQa => (
                "hotpotqa",
                Knowledge,
                TokenF1,
                "hotpotqa/test.jsonl",
                plain(QUESTION, NO_ID),
            ),
            Benchmark::TwoWiki => (
                "2wiki",
                Knowledge,
                TokenF1,
                "2wiki/test.jsonl",
                plain(QUESTION, NO_ID),
            ),
            Benchmark::Musique => (
                "musique",
                Knowledge,
                TokenF1,
                "musique/test.jsonl",
                plain(QUESTION, NO_ID),
            ),
            Benchmark::Bamboogle => (
                "bamboogle",
                Knowledge,
                TokenF1,
                "bamboogle/test.jsonl",
                plain(QUESTION, NO_ID),
            ),
            Benchmark::Gaia => (
                "gaia",
                DeepSearch,
                LlmJudge,
                "gaia/test.jsonl",
                // The reference file uses `answer`; the official GAIA release calls it `Final answer`.
                RowLayout {
                    question: &["Question", "question"],
                    answer: &["answer", "Final answer"],
                    id: &["task_id", "id"],
                    gold: GoldFormat::Verbatim,
                },
            ),
            Benchmark::Hle => (
                "hle",
                DeepSearch,
                LlmJudge,
                "hle/test.jsonl",
                plain(QUESTION, ID),
            ),
            Benchmark::WebWalker => (
                "webwalker",
                DeepSearch,
                LlmJudge,
                "webwalker/test.jsonl",
                plain(QUESTION, ID),
            ),
            Benchmark::Xbench => (
                "xbench",
                DeepSearch,
                LlmJudge,
                "xbench/test.jsonl",
                plain(QUESTION, ID),
            ),
            Benchmark::SimpleQa => (
                "simpleqa",
                Knowledge,
                TokenF1,
                "SimpleQA/test.jsonl",
                plain(QUESTION, NO_ID),
            ),
        };
        BenchmarkInfo {
            name,
            domain,
            metric,
            default_file,
            layout,
        }
    }

    /// Short name (`gsm8k`).
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// The default data file below a benchmarks folder.
    pub fn default_path(self, benchmarks_dir: &Path) -> PathBuf {
        benchmarks_dir.join(self.info().default_file)
    }

    /// Loads every task of this benchmark from `path`.
    pub fn load(self, path: &Path) -> Result<Vec<Task>> {
        let info = self.info();
        load_jsonl(path, info.name, info.domain, &info.layout)
    }

    /// Looks a benchmark up by its name or a common alias, ignoring case (`2WikiMultihopQA`,
    /// `xbench-deepsearch`, `webwalkerqa`).
    pub fn from_name(name: &str) -> Result<Benchmark> {
        let key: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let alias = match key.as_str() {
            "2wikimultihopqa" | "twowiki" => Some(Benchmark::TwoWiki),
            "webwalkerqa" => Some(Benchmark::WebWalker),
            "xbenchdeepsearch" => Some(Benchmark::Xbench),
            "gaiatext" => Some(Benchmark::Gaia),
            "humanityslastexam" => Some(Benchmark::Hle),
            _ => None,
        };
        alias
            .or_else(|| Benchmark::ALL.into_iter().find(|b| b.name() == key))
            .ok_or_else(|| Error::UnknownBenchmark {
                name: name.to_string(),
                known: Benchmark::ALL.map(Benchmark::name).join(", "),
            })
    }
}

impl FromStr for Benchmark {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Benchmark::from_name(s)
    }
}

impl std::fmt::Display for Benchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Loads a data set by name for command-line tools: a benchmark name (see
/// [`Benchmark::from_name`]) reads JSON lines, and a `.parquet` path reads the verl RL layout
/// whatever the name.
pub fn load_by_name(name: &str, path: &Path) -> Result<Vec<Task>> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        return load_verl_parquet(path);
    }
    Benchmark::from_name(name)?.load(path)
}
