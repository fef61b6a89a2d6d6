//! SFT cold-start demonstrations: a full assistant response per training question, in the agent
//! format, some deliberately imperfect.
//!
//! A demonstration holds the model-written text and the tool calls, not the tool results: the
//! caller runs each call through the same `ToolRunner` (same BM25 index, same search settings,
//! same Python sandbox) that the RL rollouts use and passes the outputs to
//! [`Demonstration::render`]. The SFT data therefore show exactly the result text the model will
//! see at RL time, whatever search settings the caller picks.

use std::ops::Range;

use arpo_core::ChatMessage;
use serde::{Deserialize, Serialize};

use super::draw::Draw;
use super::facts::{Attribute, Entity};
use super::prompt::{result_segment, ShareGpt};
use super::questions::{Fact, Operation, SyntheticQuestion};
use crate::error::{Error, Result};

/// Which tool a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemoTool {
    /// `<search> query </search>`.
    Search,
    /// `<python> code </python>`.
    Python,
}

impl DemoTool {
    /// The tag name.
    pub fn tag(self) -> &'static str {
        match self {
            DemoTool::Search => "search",
            DemoTool::Python => "python",
        }
    }
}

/// A tool call of a demonstration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoCall {
    /// The tool.
    pub tool: DemoTool,
    /// The query or code, as the rollout's call detection extracts it (trimmed).
    pub input: String,
    /// For Python: what the REPL-style tool prints (integer arithmetic, known exactly).
    pub expected_output: Option<String>,
    /// For search: the id of the document the query is meant to find (top result).
    pub expected_doc: Option<String>,
}

/// A piece of the response: text the model writes, or a call (written by the model) followed by
/// its forced result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Segment {
    /// Model text.
    Text(String),
    /// A tool call; rendering appends its result.
    Call(DemoCall),
}

/// Kinds of imperfection to draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlawKind {
    /// Searches, then does the arithmetic "in its head", wrongly.
    SkipPython,
    /// Searches, then copies another attribute's number from the result.
    WrongAttribute,
    /// Skips one search and makes up the number.
    NoSearch,
    /// Uses no tool and guesses the answer.
    NoTools,
}

impl FlawKind {
    /// Every kind.
    pub const ALL: [FlawKind; 4] = [
        FlawKind::SkipPython,
        FlawKind::WrongAttribute,
        FlawKind::NoSearch,
        FlawKind::NoTools,
    ];
}

/// What went wrong in an imperfect demonstration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flaw {
    /// No Python call; the claimed result is wrong.
    SkipPython {
        /// The wrong result.
        claimed: i64,
    },
    /// The number of `used` was taken instead of the asked attribute of `entity`.
    WrongAttribute {
        /// Entity whose value was misread.
        entity: String,
        /// The attribute whose value was used.
        used: Attribute,
    },
    /// No search for `entity`; `invented` was used instead of its value.
    NoSearch {
        /// Entity not looked up.
        entity: String,
        /// The made-up value.
        invented: i64,
    },
    /// No tool at all; `guess` is the answer.
    NoTools {
        /// The guessed answer.
        guess: i64,
    },
}

/// One demonstration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demonstration {
    /// The training question it answers.
    pub question_id: String,
    /// `[system, user]` prompt.
    pub prompt: Vec<ChatMessage>,
    /// The response, with calls in place of results.
    pub segments: Vec<Segment>,
    /// `None` for a perfect demonstration.
    pub flaw: Option<Flaw>,
    /// The boxed answer (the gold for perfect demonstrations, never the gold for flawed ones).
    pub answer: i64,
}

impl Demonstration {
    /// The calls, in order; run each and pass the outputs to [`Demonstration::render`].
    pub fn calls(&self) -> impl Iterator<Item = &DemoCall> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Call(c) => Some(c),
            Segment::Text(_) => None,
        })
    }

    /// The assistant response with `outputs[i]` (the tool's output text, e.g. `Observation::text`)
    /// as the result of the i-th call. Fails when the count differs from the number of calls.
    pub fn render(&self, outputs: &[String]) -> Result<String> {
        Ok(self.render_with_result_spans(outputs)?.0)
    }

    /// [`render`](Self::render), plus the byte ranges of the forced result segments
    /// (` <result>\n…\n</result>`): the tokens an SFT loss should mask, as RL masks them.
    pub fn render_with_result_spans(
        &self,
        outputs: &[String],
    ) -> Result<(String, Vec<Range<usize>>)> {
        let n = self.calls().count();
        if outputs.len() != n {
            return Err(Error::Config(format!(
                "demonstration {}: {} tool outputs given for {n} calls",
                self.question_id,
                outputs.len()
            )));
        }
        let mut outputs = outputs.iter();
        let (mut text, mut spans) = (String::new(), Vec::with_capacity(n));
        for segment in &self.segments {
            match segment {
                Segment::Text(t) => text.push_str(t),
                Segment::Call(c) => {
                    let tag = c.tool.tag();
                    text.push_str(&format!("<{tag}> {} </{tag}>", c.input));
                    let output = outputs.next().map_or("", String::as_str);
                    let start = text.len();
                    text.push_str(&result_segment(output));
                    spans.push(start..text.len());
                }
            }
        }
        Ok((text, spans))
    }

    /// The `(prompt messages, response text)` pair for SFT.
    pub fn pair(&self, outputs: &[String]) -> Result<(Vec<ChatMessage>, String)> {
        Ok((self.prompt.clone(), self.render(outputs)?))
    }

    /// The ShareGPT conversation for SFT.
    pub fn sharegpt(&self, outputs: &[String]) -> Result<ShareGpt> {
        Ok(ShareGpt::new(&self.prompt, &self.render(outputs)?))
    }
}

fn search_call(f: &Fact) -> Segment {
    Segment::Call(DemoCall {
        tool: DemoTool::Search,
        input: format!("{} {}", f.entity, f.attribute.query_word()),
        expected_output: None,
        expected_doc: Some(f.doc_id.clone()),
    })
}

fn python_call(op: Operation, values: &[i64]) -> Option<(Segment, i64)> {
    let result = op.apply(values)?;
    let call = Segment::Call(DemoCall {
        tool: DemoTool::Python,
        input: op.python(values),
        expected_output: Some(result.to_string()),
        expected_doc: None,
    });
    Some((call, result))
}

fn answer(value: i64) -> Segment {
    Segment::Text(format!(" <answer> \\boxed{{{value}}} </answer>"))
}

/// A wrong number near `gold`: off by 1–9 units of a random decimal place below its size.
fn near_miss(draw: &mut Draw, gold: i64) -> i64 {
    let digits = gold.unsigned_abs().max(1).ilog10() as i64;
    let offset = draw.range(1, 9) * 10_i64.pow(draw.range(0, digits) as u32);
    if draw.chance(0.5) && gold - offset >= 0 {
        gold - offset
    } else {
        gold + offset
    }
}

/// Builds the demonstration of `q`, perfect when `flaw` is `None`. A flaw that cannot make a wrong
/// answer for this question (e.g. every other attribute gives the same result) falls back to
/// [`FlawKind::NoTools`].
pub(crate) fn draw_demonstration(
    draw: &mut Draw,
    q: &SyntheticQuestion,
    prompt: Vec<ChatMessage>,
    entities: &[Entity],
    flaw: Option<FlawKind>,
    fact_documents: bool,
) -> Demonstration {
    let plan = q.operation.plan(&q.facts);
    let values: Vec<i64> = q.facts.iter().map(|f| f.value).collect();
    let think = |extra: &str| Segment::Text(format!("<think> {plan}{extra} </think> "));
    let mut segments = Vec::new();
    // The searches of the question's facts but `skip`, separated by the space that follows a
    // forced result.
    let searches = |segments: &mut Vec<Segment>, facts: &[Fact], skip: Option<usize>| {
        let mut first = true;
        for (i, f) in facts.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            if !first {
                segments.push(Segment::Text(" ".into()));
            }
            first = false;
            segments.push(search_call(f));
        }
        !first
    };
    let built = match flaw {
        None => {
            segments.push(think(""));
            searches(&mut segments, &q.facts, None);
            python_call(q.operation, &values).map(|(call, result)| {
                segments.extend([Segment::Text(" ".into()), call, answer(result)]);
                (None, result)
            })
        }
        Some(FlawKind::SkipPython) => {
            let claimed = near_miss(draw, q.gold);
            segments.push(think(""));
            searches(&mut segments, &q.facts, None);
            let expr = q.operation.python(&values);
            segments.push(Segment::Text(format!(
                " <think> {expr} = {claimed}. </think>"
            )));
            segments.push(answer(claimed));
            Some((Some(Flaw::SkipPython { claimed }), claimed))
        }
        Some(FlawKind::WrongAttribute) => {
            let i = draw.index(q.facts.len());
            let fact = &q.facts[i];
            let entity = entities.iter().find(|e| e.name == fact.entity);
            let others: Vec<(Attribute, i64)> = entity
                .map(|e| {
                    e.values
                        .iter()
                        .copied()
                        .filter(|(a, _)| *a != fact.attribute)
                        .collect()
                })
                .unwrap_or_default();
            let mut misread = values.clone();
            let choice = draw.pick(&others).copied().filter(|&(_, v)| {
                misread[i] = v;
                q.operation.apply(&misread).is_some_and(|r| r != q.gold)
            });
            choice.and_then(|(used, _)| {
                segments.push(think(""));
                // With one document per fact the other number is not on the asked fact's page:
                // the mistake is then a search for the wrong attribute.
                let mut searched = q.facts.clone();
                if let (true, Some(e)) = (fact_documents, entity) {
                    searched[i].attribute = used;
                    searched[i].doc_id = e.fact_doc_id(used);
                }
                searches(&mut segments, &searched, None);
                let (call, result) = python_call(q.operation, &misread)?;
                segments.extend([Segment::Text(" ".into()), call, answer(result)]);
                let entity = fact.entity.clone();
                Some((Some(Flaw::WrongAttribute { entity, used }), result))
            })
        }
        Some(FlawKind::NoSearch) => {
            let i = draw.index(q.facts.len());
            let fact = &q.facts[i];
            let (lo, hi) = fact.attribute.range();
            let invented = draw.range(lo, hi);
            let mut made_up = values.clone();
            made_up[i] = invented;
            let wrong = q.operation.apply(&made_up).filter(|&r| r != q.gold);
            wrong.and_then(|_| {
                let word = fact.attribute.query_word();
                segments.push(think(&format!(" {} {word}: {invented}.", fact.entity)));
                let searched = searches(&mut segments, &q.facts, Some(i));
                let (call, result) = python_call(q.operation, &made_up)?;
                let sep = if searched { " " } else { "" };
                segments.extend([Segment::Text(sep.into()), call, answer(result)]);
                let entity = fact.entity.clone();
                Some((Some(Flaw::NoSearch { entity, invented }), result))
            })
        }
        Some(FlawKind::NoTools) => None,
    };
    let (flaw, answer_value) = built.unwrap_or_else(|| {
        let guess = near_miss(draw, q.gold);
        segments = vec![
            Segment::Text(format!("<think> {plan} I guess {guess}. </think>")),
            answer(guess),
        ];
        (Some(Flaw::NoTools { guess }), guess)
    });
    Demonstration {
        question_id: q.id.clone(),
        prompt,
        segments,
        flaw,
        answer: answer_value,
    }
}
