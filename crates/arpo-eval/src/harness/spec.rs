//! Per-benchmark evaluation settings with the paper's defaults (docs/arpo.md §6): the system
//! prompt (the reference prompt, describing only the tools the benchmark enables), tool limits
//! (5 Python calls, 10 searches), decoding (temperature 0.6, top-p 0.95, top-k 20, repetition
//! penalty 1.1, 4096 new tokens) and the metric.

use std::sync::Arc;

use arpo_core::{ChatMessage, Domain, Task, Tool};
use arpo_tools::{RunnerConfig, ToolRunner, ToolSpec};
use serde::{Deserialize, Serialize};

use crate::{Benchmark, Error, Metric, Result};

/// Token selection and budget of one evaluation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decoding {
    /// Softmax temperature (0: greedy).
    pub temperature: f64,
    /// Nucleus mass.
    pub top_p: f64,
    /// Candidates kept before sampling (0: all).
    pub top_k: usize,
    /// Penalty on tokens already in the sequence (1: none).
    pub repetition_penalty: f64,
    /// Response budget: generated plus tool-result tokens.
    pub max_new_tokens: usize,
}

impl Decoding {
    /// The paper's evaluation decoding.
    pub fn paper() -> Self {
        Self {
            temperature: 0.6,
            top_p: 0.95,
            top_k: 20,
            repetition_penalty: 1.1,
            max_new_tokens: 4096,
        }
    }
}

/// Which tools a run offers, with their per-trajectory call limits (`None`: tool off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolLimits {
    /// Python calls allowed per trajectory.
    pub python: Option<u32>,
    /// Searches allowed per trajectory.
    pub search: Option<u32>,
}

impl ToolLimits {
    /// No tools.
    pub const NONE: ToolLimits = ToolLimits {
        python: None,
        search: None,
    };
}

/// Everything that defines how one benchmark is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSpec {
    /// Benchmark name used in records and file names.
    pub benchmark: String,
    /// How a response is scored.
    pub metric: Metric,
    /// Tools offered and their limits.
    pub tools: ToolLimits,
    /// The system message put before each question (tasks that carry their own chat prompt
    /// keep it).
    pub system_prompt: String,
    /// Token selection.
    pub decoding: Decoding,
    /// Sampled responses per question (the paper averages 5 runs).
    pub samples: usize,
    /// pass@k values reported (those above `samples` are left out).
    pub pass_at_k: Vec<usize>,
}

impl EvalSpec {
    /// The paper's settings for `benchmark`: math sets get the Python interpreter, multi-hop QA
    /// gets search, deep search gets both; 5 Python calls and 10 searches; paper decoding; one
    /// sample.
    pub fn paper(benchmark: Benchmark) -> Self {
        let info = benchmark.info();
        let tools = match info.domain {
            Domain::Math => ToolLimits {
                python: Some(5),
                search: None,
            },
            Domain::Knowledge => ToolLimits {
                python: None,
                search: Some(10),
            },
            Domain::DeepSearch => ToolLimits {
                python: Some(5),
                search: Some(10),
            },
        };
        Self {
            benchmark: info.name.to_string(),
            metric: info.metric,
            tools,
            system_prompt: system_prompt(tools),
            decoding: Decoding::paper(),
            samples: 1,
            pass_at_k: vec![1, 5, 10],
        }
    }

    /// Replaces the tools and rewrites the system prompt to describe them.
    pub fn with_tools(mut self, tools: ToolLimits) -> Self {
        self.tools = tools;
        self.system_prompt = system_prompt(tools);
        self
    }

    /// The chat prompt of `task`: its own messages when the data carries them, else this spec's
    /// system message and the question.
    pub fn messages(&self, task: &Task) -> Vec<ChatMessage> {
        match &task.prompt {
            Some(m) => m.clone(),
            None => vec![
                ChatMessage::system(self.system_prompt.clone()),
                ChatMessage::user(task.question.clone()),
            ],
        }
    }

    /// The tool runner of this spec from the tool implementations at hand; an enabled tool that
    /// is not given is an error that says how to provide it.
    pub fn tool_runner(
        &self,
        python: Option<Arc<dyn Tool>>,
        search: Option<Arc<dyn Tool>>,
    ) -> Result<ToolRunner> {
        let mut specs = Vec::new();
        if let Some(limit) = self.tools.python {
            let tool = python.ok_or_else(|| {
                Error::Config(format!(
                    "{} uses the Python tool but none is available (is bubblewrap installed?); \
                     or turn it off with --tools",
                    self.benchmark
                ))
            })?;
            specs.push(ToolSpec::python(tool).max_calls(limit));
        }
        if let Some(limit) = self.tools.search {
            let tool = search.ok_or_else(|| {
                Error::Config(format!(
                    "{} uses the search tool: give a BM25 index (--index, built by `arpo-search \
                     build-index`) or a replay cache (--search-cache), or turn search off with \
                     --tools",
                    self.benchmark
                ))
            })?;
            specs.push(ToolSpec::search(tool).max_calls(limit));
        }
        ToolRunner::new(RunnerConfig::default(), specs).map_err(|e| Error::Config(e.to_string()))
    }
}

/// The reference system prompt (ARPO's RL data, `prompt[0]`, with `\boxed` repaired), describing
/// only the enabled tools. With both tools it is the reference text word for word.
pub fn system_prompt(tools: ToolLimits) -> String {
    let (python, search) = (tools.python.is_some(), tools.search.is_some());
    let (help, invoke, tags) = match (search, python) {
        (true, true) => (
            "the wikipedia search tool and python interpreter tool",
            "During thinking, you can invoke the wikipedia search tool to search and python \
             interpreter tool to calculate the math problem for fact information about specific \
             topics if needed. ",
            "the search query and result are enclosed within <search> </search> and <result> \
             </result> tags respectively",
        ),
        (true, false) => (
            "the wikipedia search tool",
            "During thinking, you can invoke the wikipedia search tool to search for fact \
             information about specific topics if needed. ",
            "the search query and result are enclosed within <search> </search> and <result> \
             </result> tags respectively",
        ),
        (false, true) => (
            "the python interpreter tool",
            "During thinking, you can invoke the python interpreter tool to calculate the math \
             problem if needed. ",
            "the python code and result are enclosed within <python> </python> and <result> \
             </result> tags respectively",
        ),
        (false, false) => ("careful reasoning", "", ""),
    };
    let mut example = String::from("<think> This is the reasoning process. </think> ");
    if search {
        example.push_str(
            "<search> search query here </search> <result> search result here </result> \
             <think> This is the reasoning process. </think> ",
        );
    }
    if python {
        example.push_str(
            "<python> python code here </python> <result> python interpreter result here \
             </result> <think> This is the reasoning process. </think> ",
        );
    }
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!(", and {tags}")
    };
    format!(
        "You are a helpful assistant that can solve the given question step by step with the help \
         of {help}. Given a question, you need to first think about the reasoning process in the \
         mind and then provide the answer. {invoke}The reasoning process and answer are enclosed \
         within <think> </think> and <answer> </answer> tags respectively{tags}. For example, \
         {example}<answer> The final answer is \\[ \\boxed{{answer here}} \\] </answer>. In the \
         last part of the answer, the final exact answer is enclosed within \\boxed{{}} with \
         latex format."
    )
}
