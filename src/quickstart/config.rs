//! The quickstart's settings: one seed, the model shape, the data sizes and the SFT / RL budgets.
//! [`QuickstartConfig::standard`] is the README's main job; [`QuickstartConfig::smoke`] the few-step
//! run the CI test makes. Both are written to the report folder so a run can be reproduced.

use std::path::PathBuf;

use arpo_eval::synthetic::{FlawKind, OperationKind};
use serde::{Deserialize, Serialize};

/// Everything a quickstart run depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickstartConfig {
    /// Seed of the generated facts and questions, the initial weights, and all sampling.
    pub seed: u64,
    /// Report folder (created; an existing one is overwritten file by file).
    pub out_dir: PathBuf,
    /// Width of the from-scratch decoder.
    pub hidden: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Vocabulary of the byte-level BPE tokenizer learned on the training text; `None`: bytes
    /// plus tool tags (sequences about 3× longer).
    pub bpe_vocab: Option<usize>,
    /// Generated entities (towns, companies, writers).
    pub entities: usize,
    /// Training questions (each with one demonstration for SFT; RL samples prompts from them).
    pub train_questions: usize,
    /// Held-out evaluation questions (entities never seen in training).
    pub eval_questions: usize,
    /// Fraction of the entities reserved to RL questions (seen neither in SFT nor evaluation).
    /// A `config.json` without the field had none.
    #[serde(default)]
    pub rl_entity_fraction: f64,
    /// RL questions on those entities; 0: RL samples the SFT training questions. A
    /// `config.json` without the field had none.
    #[serde(default)]
    pub rl_questions: usize,
    /// Question kinds, drawn uniformly from this list (a kind listed twice is drawn twice as
    /// often).
    pub operations: Vec<OperationKind>,
    /// Whether prompts carry the compact system prompt. Off by default: the from-scratch model
    /// learns the format from demonstrations, and the prompt was a quarter of every sequence
    /// (dropping it made SFT steps cheaper and learned no slower). A `config.json` without the
    /// field predates it and had the prompt.
    #[serde(default = "default_system_prompt")]
    pub system_prompt: bool,
    /// One search document per fact instead of one per entity (see
    /// `arpo_eval::synthetic::SyntheticConfig::fact_documents`). A `config.json` without the
    /// field used entity documents.
    #[serde(default)]
    pub fact_documents: bool,
    /// Fraction of SFT demonstrations that are flawed (skip a tool, miscopy, wrong answer).
    pub imperfect_fraction: f64,
    /// The flaws drawn, uniformly (a kind listed twice is drawn twice as often). A `config.json`
    /// without the field ran with every kind once.
    #[serde(default = "default_flaws")]
    pub flaws: Vec<FlawKind>,
    /// SFT optimiser steps.
    pub sft_steps: u64,
    /// SFT examples per step.
    pub sft_batch: usize,
    /// SFT peak learning rate (cosine decay after a short warm-up).
    pub sft_lr: f64,
    /// RL steps, the same for ARPO and GRPO.
    pub rl_steps: u64,
    /// Prompts per RL step.
    pub rl_prompts: usize,
    /// Policy updates per RL step (the step's prompts split into this many mini-batches).
    #[serde(default = "default_rl_updates")]
    pub rl_updates: usize,
    /// Leaves (completed trajectories) per prompt, the same for ARPO and GRPO.
    pub leaves: usize,
    /// ARPO's initial samples per prompt (the rest of `leaves` is spent on entropy branches).
    pub arpo_initial: usize,
    /// ARPO's branch threshold τ.
    pub arpo_threshold: f64,
    /// ARPO's entropy weight β.
    pub arpo_entropy_weight: f64,
    /// Validate each RL policy every this many steps (and before the first and after the last)
    /// on the first `validation_questions` held-out questions; 0: no validation. A
    /// `config.json` without the field had none.
    #[serde(default)]
    pub validate_every: u64,
    /// Held-out questions of the validation curve (the same questions and sampling streams at
    /// every point).
    #[serde(default)]
    pub validation_questions: usize,
    /// RL learning rate (constant).
    pub rl_lr: f64,
    /// Reward of a response that fails the format gate, for RL and evaluation scores (the
    /// reference reward uses −1). A `config.json` without the field ran with −1.
    #[serde(default = "default_format_penalty")]
    pub format_penalty: f32,
    /// Sampling temperature of RL rollouts.
    pub temperature: f64,
    /// Response budget in tokens (tool results included).
    pub max_response_tokens: usize,
    /// Run Python without the bubblewrap sandbox when it cannot be created (rlimits and the
    /// wall-time kill still apply). Off by default: model code is hostile.
    pub allow_unsandboxed_python: bool,
}

impl QuickstartConfig {
    /// The main job (about 10 minutes on 2 CPU cores in a release build; see the README).
    pub fn standard(seed: u64) -> Self {
        Self {
            seed,
            out_dir: PathBuf::from("reports/quickstart"),
            hidden: 128,
            layers: 2,
            bpe_vocab: Some(1024),
            // Many entities, so that names cannot be memorised and must be copied.
            entities: 800,
            train_questions: 1500,
            // 400 single samples (a standard error of about 2.3 points at 30% accuracy), and the
            // paired comparison against SFT on the same questions.
            eval_questions: 400,
            // RL practises on entities that neither SFT nor evaluation names: on SFT's own
            // entities RL reinforced remembered facts (RL training accuracy ~0.5 against ~0.25
            // held-out) and held-out accuracy did not move.
            rl_entity_fraction: 0.25,
            rl_questions: 1000,
            // Every kind, uniformly: a third need one lookup (`Since`, `Scale`), the rest two.
            operations: OperationKind::ALL.to_vec(),
            system_prompt: false,
            // A lookup returns the one number asked for (SFT held-out accuracy 12.5% → 23.5% on
            // seed 0 against entity documents with three numbers each).
            fact_documents: true,
            // Half the demonstrations take a shortcut: skip the Python call (wrong arithmetic
            // "in the head"), skip a search (an invented number) or skip both tools (a guess).
            // SFT learns these habits at their rates; RL has to unlearn them, and two of the
            // three are decisions taken right after a tool result, where ARPO branches. Seed 0:
            // SFT 22.3% → ARPO 32.8% / GRPO 27.3%. With 30% flawed demonstrations of every
            // kind, shortcuts were rare at evaluation temperature and RL gained ~2 points (most
            // errors left were miscopied names and numbers). `WrongAttribute` is left out: like
            // those, it is a copying error, not a habit of skipping a tool.
            imperfect_fraction: 0.5,
            flaws: vec![FlawKind::SkipPython, FlawKind::NoSearch, FlawKind::NoTools],
            sft_steps: 1750,
            sft_batch: 8,
            sft_lr: 6e-3,
            rl_steps: 36,
            rl_prompts: 8,
            rl_updates: 2,
            leaves: 8,
            arpo_initial: 4,
            arpo_threshold: 0.5,
            arpo_entropy_weight: 0.2,
            validate_every: 9,
            validation_questions: 160,
            // 1e-3 collapsed tool use (held-out 27% → 22%); 3e-4 barely moved the policy.
            rl_lr: 5e-4,
            format_penalty: -1.0,
            temperature: 1.0,
            max_response_tokens: 320,
            allow_unsandboxed_python: false,
        }
    }

    /// A shortened run for tests: same pipeline, a few steps of everything.
    pub fn smoke(seed: u64, out_dir: PathBuf) -> Self {
        Self {
            out_dir,
            hidden: 32,
            bpe_vocab: Some(320),
            entities: 24,
            train_questions: 24,
            eval_questions: 4,
            rl_questions: 8,
            sft_steps: 3,
            sft_batch: 2,
            rl_steps: 2,
            rl_prompts: 2,
            validate_every: 1,
            validation_questions: 2,
            leaves: 4,
            arpo_initial: 2,
            max_response_tokens: 48,
            ..Self::standard(seed)
        }
    }

    /// The settings SFT depends on (data, tokenizer, model, SFT): equal for a resumable run.
    pub fn sft_part(&self) -> Self {
        Self {
            out_dir: PathBuf::new(),
            // RL questions come from their own draw stream; their entities do shape SFT.
            rl_questions: 0,
            rl_steps: 0,
            rl_prompts: 0,
            rl_updates: 0,
            leaves: 0,
            arpo_initial: 0,
            arpo_threshold: 0.0,
            arpo_entropy_weight: 0.0,
            validate_every: 0,
            validation_questions: 0,
            rl_lr: 0.0,
            format_penalty: 0.0,
            temperature: 0.0,
            max_response_tokens: 0,
            allow_unsandboxed_python: false,
            ..self.clone()
        }
    }

    /// Checks the relations the pipeline relies on; names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("train_questions", self.train_questions),
            ("eval_questions", self.eval_questions),
            ("sft_batch", self.sft_batch),
            ("rl_prompts", self.rl_prompts),
            ("rl_updates", self.rl_updates),
            ("leaves", self.leaves),
            ("arpo_initial", self.arpo_initial),
            ("max_response_tokens", self.max_response_tokens),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(format!("{field} must be at least 1"));
            }
        }
        if !self.hidden.is_multiple_of(8) {
            return Err(format!(
                "hidden = {} must be a multiple of 8 (4 heads, even head width)",
                self.hidden
            ));
        }
        if self.operations.is_empty() {
            return Err("operations must name at least one question kind".into());
        }
        if self.validate_every > 0 && self.validation_questions == 0 {
            return Err(format!(
                "validate_every = {} needs validation_questions >= 1",
                self.validate_every
            ));
        }
        if self.validation_questions > self.eval_questions {
            return Err(format!(
                "validation_questions = {} exceeds eval_questions = {} (validation uses the \
                 first held-out questions)",
                self.validation_questions, self.eval_questions
            ));
        }
        if self.rl_updates > self.rl_prompts {
            return Err(format!(
                "rl_updates = {} exceeds rl_prompts = {} (one prompt per update at least)",
                self.rl_updates, self.rl_prompts
            ));
        }
        if self.arpo_initial > self.leaves {
            return Err(format!(
                "arpo_initial = {} exceeds leaves = {}",
                self.arpo_initial, self.leaves
            ));
        }
        if self.sft_lr <= 0.0 || self.rl_lr < 0.0 || self.temperature <= 0.0 {
            return Err("sft_lr and temperature must be > 0, rl_lr >= 0".into());
        }
        Ok(())
    }
}

fn default_rl_updates() -> usize {
    2
}

fn default_flaws() -> Vec<FlawKind> {
    FlawKind::ALL.to_vec()
}

fn default_format_penalty() -> f32 {
    -1.0
}

fn default_system_prompt() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_smoke_are_valid() {
        QuickstartConfig::standard(0).validate().unwrap();
        QuickstartConfig::smoke(0, PathBuf::from("x"))
            .validate()
            .unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let bad = |edit: fn(&mut QuickstartConfig)| {
            let mut c = QuickstartConfig::standard(0);
            edit(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.leaves = 0).contains("leaves"));
        assert!(bad(|c| c.rl_updates = 0).contains("rl_updates"));
        assert!(bad(|c| c.rl_updates = c.rl_prompts + 1).contains("rl_updates"));
        assert!(bad(|c| c.arpo_initial = c.leaves + 1).contains("arpo_initial"));
        assert!(bad(|c| c.hidden = 100).contains("hidden"));
        assert!(bad(|c| c.validation_questions = 0).contains("validation_questions"));
        assert!(
            bad(|c| c.validation_questions = c.eval_questions + 1).contains("validation_questions")
        );
    }

    #[test]
    fn configs_written_before_the_newer_fields_load_as_they_ran() {
        let mut json = serde_json::to_value(QuickstartConfig::standard(3)).unwrap();
        json.as_object_mut().unwrap().remove("rl_updates");
        json.as_object_mut().unwrap().remove("system_prompt");
        json.as_object_mut().unwrap().remove("format_penalty");
        json.as_object_mut().unwrap().remove("flaws");
        json.as_object_mut().unwrap().remove("fact_documents");
        json.as_object_mut().unwrap().remove("rl_entity_fraction");
        json.as_object_mut().unwrap().remove("rl_questions");
        json.as_object_mut().unwrap().remove("validate_every");
        json.as_object_mut().unwrap().remove("validation_questions");
        let c: QuickstartConfig = serde_json::from_value(json).unwrap();
        assert_eq!(c.rl_updates, 2);
        assert_eq!(
            c.format_penalty, -1.0,
            "older runs used the reference penalty"
        );
        assert!(c.system_prompt, "older runs had the system prompt");
        assert_eq!(c.flaws, FlawKind::ALL, "older runs drew every flaw");
        assert!(!c.fact_documents, "older runs had entity documents");
        assert_eq!(
            c.rl_questions, 0,
            "older runs trained RL on the SFT questions"
        );
        assert_eq!(c.validate_every, 0, "older runs did not validate");
    }
}
