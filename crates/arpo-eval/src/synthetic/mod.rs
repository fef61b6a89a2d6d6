//! A generated tool-use task for the quickstart: invented facts in a search corpus, questions
//! that need one or two `<search>` lookups and a `<python>` arithmetic step, and imperfect SFT
//! demonstrations — all drawn from one seed.
//!
//! * **Seeded**: [`SyntheticDataset::generate`] is a pure function of [`SyntheticConfig`]; the
//!   same seed gives the same corpus, questions and demonstrations bit for bit (ChaCha8 stream,
//!   own sampling code), another seed gives other names and numbers, so nothing carries over
//!   between seeds and only the tools can answer.
//! * **Held out by entity**: a fraction of the entities (per kind) is reserved to evaluation;
//!   evaluation questions name only those, training questions and demonstrations only the others.
//!   The corpus holds all of them (one search index serves training and evaluation), so
//!   evaluation measures tool use on names the model never saw in training. Optionally a third
//!   share of the entities serves RL questions only ([`SyntheticDataset::rl`]), so that RL also
//!   practises on names SFT never showed.
//! * **Corpus layout**: one document per entity stating its three attributes (default), or one
//!   document per fact (`fact_documents`), where a lookup returns the one number asked for.
//! * **Reward**: gold answers are integers and tasks have [`Domain::Math`], so the reward is
//!   [`ArpoReward::math`](crate::ArpoReward::math) (or `by_domain`): math equivalence, +0.1 when
//!   both tools were used. A perfect demonstration scores 1.1, a flawed one 0.
//! * **Search settings**: documents are short (≤ [`SyntheticDataset::max_doc_chars`]); build the
//!   `SearchTool` with `snippet_chars` at least that, so a result line shows the whole document,
//!   `PageFormat::Snippet` (entity documents start with their name, a title would repeat it), and
//!   a small `top_k` ([`SUGGESTED_TOP_K`]) to keep results within the tiny model's context.
//! * **Demonstrations** carry their tool calls, not the results: run the calls through the RL
//!   `ToolRunner` and pass the outputs to [`Demonstration::render`], so SFT data show exactly what
//!   the model sees at RL time (see [`Demonstration`]).

mod demo;
mod draw;
mod facts;
mod names;
mod prompt;
mod questions;

use std::collections::BTreeSet;
use std::path::Path;

use arpo_core::{Domain, Task};
use serde::{Deserialize, Serialize};

pub use demo::{DemoCall, DemoTool, Demonstration, Flaw, FlawKind, Segment};
pub use facts::{Attribute, CorpusDoc, Entity, EntityKind};
pub use prompt::{prompt_messages, result_segment, ShareGpt, ShareGptTurn, SYSTEM_PROMPT};
pub use questions::{Fact, Operation, OperationKind, SyntheticQuestion, REFERENCE_YEAR};

use crate::error::{Error, Result};
use draw::Draw;

/// Benchmark name of the generated tasks.
pub const BENCHMARK: &str = "synthetic";

/// Search results per query: the entity's document alone keeps prompt and two-lookup response
/// under about 600 byte-level tokens; each extra result line costs about 70 tokens per search.
pub const SUGGESTED_TOP_K: usize = 1;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticConfig {
    /// Seed of everything.
    pub seed: u64,
    /// Invented entities (towns, companies, writers in equal shares).
    pub entities: usize,
    /// Fraction of each kind's entities reserved to evaluation questions.
    pub eval_entity_fraction: f64,
    /// Fraction of each kind's entities reserved to RL questions ([`SyntheticDataset::rl`]): RL
    /// then practises lookups on names the SFT demonstrations never showed, as evaluation does,
    /// instead of on names whose facts SFT may have memorised. A configuration without the field
    /// had none.
    #[serde(default)]
    pub rl_entity_fraction: f64,
    /// RL questions (on the RL entities; no demonstrations).
    #[serde(default)]
    pub rl_questions: usize,
    /// Distractor documents (each mentions a random entity).
    pub distractors: usize,
    /// Training questions (each gets one demonstration).
    pub train_questions: usize,
    /// Evaluation questions.
    pub eval_questions: usize,
    /// Operations questions use, drawn uniformly.
    pub operations: Vec<OperationKind>,
    /// Fraction of demonstrations that are imperfect (exactly `round(fraction × train)` of them).
    pub imperfect_fraction: f64,
    /// Imperfections to draw from, uniformly.
    pub flaws: Vec<FlawKind>,
    /// Whether prompts start with [`SYSTEM_PROMPT`]. A from-scratch model reads no instructions
    /// (it learns the format from the demonstrations), so small runs may drop it: it is a quarter
    /// of each SFT sequence.
    #[serde(default = "default_system_prompt")]
    pub system_prompt: bool,
    /// Corpus layout: `false` (default), one document per entity stating all its attributes, so
    /// reading a value means finding it among three numbers; `true`, one document per fact
    /// (`e{i}-{query word}`), so a lookup returns the one number asked for. A configuration
    /// without the field used entity documents.
    #[serde(default)]
    pub fact_documents: bool,
}

fn default_system_prompt() -> bool {
    true
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            entities: 120,
            eval_entity_fraction: 0.25,
            rl_entity_fraction: 0.0,
            rl_questions: 0,
            distractors: 60,
            train_questions: 400,
            eval_questions: 100,
            operations: OperationKind::ALL.to_vec(),
            imperfect_fraction: 0.3,
            flaws: FlawKind::ALL.to_vec(),
            system_prompt: true,
            fact_documents: false,
        }
    }
}

/// Everything generated from one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticDataset {
    /// The configuration it came from.
    pub config: SyntheticConfig,
    /// The invented entities (`held_out` marks the evaluation ones).
    pub entities: Vec<Entity>,
    /// The search corpus: entity documents `e{i}`, then distractors `d{i}`.
    pub corpus: Vec<CorpusDoc>,
    /// Training questions (training entities only).
    pub train: Vec<SyntheticQuestion>,
    /// Evaluation questions (held-out entities only).
    pub eval: Vec<SyntheticQuestion>,
    /// RL questions (RL entities only; empty unless `rl_questions` is set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rl: Vec<SyntheticQuestion>,
    /// One demonstration per training question, in the same order.
    pub demonstrations: Vec<Demonstration>,
}

// Independent draw streams, so that one part's draw count does not shift the others.
const FACTS: u64 = 0;
const TRAIN: u64 = 1;
const EVAL: u64 = 2;
const DEMOS: u64 = 3;
const RL: u64 = 4;

impl SyntheticDataset {
    /// Generates the dataset. Errors ([`Error::Config`]) on a configuration that cannot be served:
    /// too few or too many entities, a fraction outside 0..=1, no operations, or fewer distinct
    /// questions possible than asked.
    pub fn generate(config: &SyntheticConfig) -> Result<Self> {
        validate(config)?;
        let mut draw = Draw::new(config.seed, FACTS);
        let mut names = names::NameDraw::new();
        let mut entities = Vec::with_capacity(config.entities);
        for i in 0..config.entities {
            let name = names
                .fresh(&mut draw, 10_000)
                .ok_or_else(|| Error::Config("synthetic: ran out of entity names".into()))?;
            let kind = EntityKind::ALL[i % EntityKind::ALL.len()];
            entities.push(facts::draw_entity(&mut draw, name, kind, i));
        }
        // Held out per kind, so every operation has entities to use on both sides.
        for kind in EntityKind::ALL {
            let mut of_kind: Vec<usize> = (0..entities.len())
                .filter(|&i| entities[i].kind == kind)
                .collect();
            draw.shuffle(&mut of_kind);
            let n = (of_kind.len() as f64 * config.eval_entity_fraction).round() as usize;
            let n_rl = (of_kind.len() as f64 * config.rl_entity_fraction).round() as usize;
            for &i in of_kind.iter().take(n) {
                entities[i].held_out = true;
            }
            for &i in of_kind.iter().skip(n).take(n_rl) {
                entities[i].rl_only = true;
            }
        }
        let mut corpus: Vec<CorpusDoc> = Vec::new();
        for e in &entities {
            if config.fact_documents {
                corpus.extend(e.kind.attributes().iter().map(|&a| CorpusDoc {
                    id: e.fact_doc_id(a),
                    title: e.name.clone(),
                    text: e.fact_text(a),
                }));
            } else {
                corpus.push(CorpusDoc {
                    id: e.doc_id.clone(),
                    title: e.name.clone(),
                    text: e.document_text(),
                });
            }
        }
        for i in 0..config.distractors {
            let e = &entities[draw.index(entities.len())];
            corpus.push(facts::draw_distractor(&mut draw, e, i));
        }
        let pool = |held_out: bool, rl_only: bool| -> Vec<&Entity> {
            entities
                .iter()
                .filter(|e| e.held_out == held_out && e.rl_only == rl_only)
                .collect()
        };
        let (sft_pool, rl_pool) = (pool(false, false), pool(false, true));
        let train = draw_questions(config, &sft_pool, config.train_questions, TRAIN, "train")?;
        let eval = draw_questions(
            config,
            &pool(true, false),
            config.eval_questions,
            EVAL,
            "eval",
        )?;
        let rl = draw_questions(config, &rl_pool, config.rl_questions, RL, "rl")?;
        let demonstrations = draw_demonstrations(config, &train, &entities);
        Ok(Self {
            config: config.clone(),
            entities,
            corpus,
            train,
            eval,
            rl,
            demonstrations,
        })
    }

    /// The training questions as tasks (with their `[system, user]` prompt).
    pub fn train_tasks(&self) -> Vec<Task> {
        self.tasks(&self.train)
    }

    /// The evaluation questions as tasks.
    pub fn eval_tasks(&self) -> Vec<Task> {
        self.tasks(&self.eval)
    }

    /// The RL questions as tasks.
    pub fn rl_tasks(&self) -> Vec<Task> {
        self.tasks(&self.rl)
    }

    fn tasks(&self, questions: &[SyntheticQuestion]) -> Vec<Task> {
        questions
            .iter()
            .map(|q| {
                let id = format!("{BENCHMARK}-{}/{}", self.config.seed, q.id);
                let mut task = Task::new(
                    id,
                    BENCHMARK,
                    Domain::Math,
                    q.text.clone(),
                    vec![q.gold.to_string()],
                );
                task.prompt = Some(prompt_messages(&q.text, self.config.system_prompt));
                task
            })
            .collect()
    }

    /// The corpus as JSON lines (`{"id","title","text"}`), the input of arpo-tools' BM25 index.
    pub fn corpus_jsonl(&self) -> String {
        self.corpus
            .iter()
            .map(|d| serde_json::to_string(d).unwrap_or_default() + "\n")
            .collect()
    }

    /// Writes [`corpus_jsonl`](Self::corpus_jsonl) to `path`.
    pub fn write_corpus(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.corpus_jsonl()).map_err(|e| Error::io(path, e))
    }

    /// The longest document text in characters: the `snippet_chars` that shows whole documents.
    pub fn max_doc_chars(&self) -> usize {
        self.corpus
            .iter()
            .map(|d| d.text.chars().count())
            .max()
            .unwrap_or(0)
    }
}

fn validate(c: &SyntheticConfig) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("synthetic: {m}")));
    let kinds = EntityKind::ALL.len();
    if c.entities < 4 * kinds || c.entities > names::NAME_SPACE / 4 {
        return bad(format!(
            "entities = {} (needs {}..={})",
            c.entities,
            4 * kinds,
            names::NAME_SPACE / 4
        ));
    }
    for (field, v) in [
        ("eval_entity_fraction", c.eval_entity_fraction),
        ("rl_entity_fraction", c.rl_entity_fraction),
        ("imperfect_fraction", c.imperfect_fraction),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return bad(format!("{field} = {v} (needs 0..=1)"));
        }
    }
    // Every pool in use needs two entities of every kind for two-entity questions.
    let per_kind = c.entities / kinds;
    let held = (per_kind as f64 * c.eval_entity_fraction).round() as usize;
    let rl = (per_kind as f64 * c.rl_entity_fraction).round() as usize;
    let train = per_kind.saturating_sub(held + rl);
    if (c.eval_questions > 0 && held < 2)
        || (c.rl_questions > 0 && rl < 2)
        || (c.train_questions > 0 && (train < 2 || held + rl > per_kind))
    {
        return bad(format!(
            "eval_entity_fraction = {} and rl_entity_fraction = {} leave fewer than 2 entities \
             of a kind in a split",
            c.eval_entity_fraction, c.rl_entity_fraction
        ));
    }
    if c.operations.is_empty() {
        return bad("operations is empty".into());
    }
    if c.imperfect_fraction > 0.0 && c.flaws.is_empty() {
        return bad("imperfect_fraction > 0 with no flaws".into());
    }
    Ok(())
}

fn draw_questions(
    config: &SyntheticConfig,
    pool: &[&Entity],
    count: usize,
    stream: u64,
    split: &str,
) -> Result<Vec<SyntheticQuestion>> {
    let mut draw = Draw::new(config.seed, stream);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(count);
    let mut attempts = 0usize;
    while out.len() < count {
        attempts += 1;
        if attempts > 50 * count + 100 {
            return Err(Error::Config(format!(
                "synthetic: only {} distinct {split} questions found of {count} asked; \
                 use more entities or fewer questions",
                out.len()
            )));
        }
        let Some(&kind) = draw.pick(&config.operations) else {
            break;
        };
        let Some((text, operation, mut facts)) = questions::draw_question(&mut draw, kind, pool)
        else {
            continue;
        };
        if config.fact_documents {
            for f in &mut facts {
                if let Some(e) = pool.iter().find(|e| e.name == f.entity) {
                    f.doc_id = e.fact_doc_id(f.attribute);
                }
            }
        }
        let values: Vec<i64> = facts.iter().map(|f| f.value).collect();
        let Some(gold) = operation.apply(&values) else {
            continue;
        };
        if seen.insert(text.clone()) {
            out.push(SyntheticQuestion {
                id: format!("{split}-{}", out.len()),
                text,
                operation,
                facts,
                gold,
            });
        }
    }
    Ok(out)
}

fn draw_demonstrations(
    config: &SyntheticConfig,
    train: &[SyntheticQuestion],
    entities: &[Entity],
) -> Vec<Demonstration> {
    let mut draw = Draw::new(config.seed, DEMOS);
    let flawed_count = (train.len() as f64 * config.imperfect_fraction).round() as usize;
    let mut order: Vec<usize> = (0..train.len()).collect();
    draw.shuffle(&mut order);
    let mut flawed = vec![false; train.len()];
    for &i in order.iter().take(flawed_count) {
        flawed[i] = true;
    }
    train
        .iter()
        .zip(flawed)
        .map(|(q, is_flawed)| {
            let flaw = if is_flawed {
                draw.pick(&config.flaws).copied()
            } else {
                None
            };
            let prompt = prompt_messages(&q.text, config.system_prompt);
            demo::draw_demonstration(&mut draw, q, prompt, entities, flaw, config.fact_documents)
        })
        .collect()
}
