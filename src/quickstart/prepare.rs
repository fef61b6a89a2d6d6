//! Everything before RL: the report folder, the generated task and its tools, the tokenizer, and
//! the SFT cold start (trained, or restored from the folder's finished checkpoint). The
//! quickstart continues from a [`Prepared`] with evaluation and RL; the rollout benchmark
//! (`examples/bench_rollout.rs`) measures rollouts of the same SFT policy on the same tools.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arpo_core::{Task, Tokenizer};
use arpo_eval::synthetic::{SyntheticConfig, SyntheticDataset};
use arpo_eval::ArpoReward;
use arpo_model::{from_scratch, CausalLm, ModelConfig};
use arpo_tools::{PythonConfig, SandboxPolicy, ToolRunner};
use arpo_train::optim::OptimizerConfig;
use arpo_train::sft_loop::{run_sft, SftConfig, SftRun, SftStep};
use arpo_train::LrSchedule;
use burn::tensor::backend::AutodiffBackend;

use super::{io_err, setup, QuickstartConfig, QuickstartError, RunOptions};

/// The SFT policy with its task, tools and tokenizer.
pub struct Prepared<B: AutodiffBackend> {
    /// RL prompts: the RL questions (on entities neither SFT nor evaluation uses) when the
    /// config asks for them, else the SFT training questions.
    pub rl_tasks: Vec<Task>,
    /// Held-out questions (entities never seen in training).
    pub eval_tasks: Vec<Task>,
    /// Search over the generated corpus and the Python sandbox.
    pub runner: Arc<ToolRunner>,
    /// The task's reward (math equivalence, the configured format penalty).
    pub reward: ArpoReward,
    /// The tokenizer learned on the training side (or bytes).
    pub tokenizer: Box<dyn Tokenizer>,
    /// The policy after SFT.
    pub sft_model: CausalLm<B>,
    /// SFT examples trained on.
    pub sft_examples: usize,
    /// `(step, loss)` of every SFT step, including those before a resume.
    pub sft_losses: Vec<(f64, f64)>,
    /// Seconds spent generating the task, replaying demonstrations and learning the tokenizer.
    pub data_seconds: f64,
    /// Seconds spent in SFT by this process.
    pub sft_seconds: f64,
}

/// Creates the report folder (writing `config.json`), generates the task, builds its tools and
/// tokenizer and runs SFT — or, with `options.resume_sft`, continues or reuses the folder's SFT
/// (refused when its `config.json` differs in a data, model or SFT setting).
pub async fn prepare<B: AutodiffBackend>(
    config: &QuickstartConfig,
    device: &B::Device,
    options: RunOptions,
) -> Result<Prepared<B>, QuickstartError> {
    config.validate().map_err(QuickstartError::Config)?;
    let out = &config.out_dir;
    let config_path = out.join("config.json");
    if options.resume_sft {
        check_resumable(config, &config_path)?;
    }
    for sub in ["", "sft", "arpo", "grpo", "eval", "trees"] {
        let dir = out.join(sub);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    }
    let config_json = serde_json::to_string_pretty(config)
        .map_err(|e| QuickstartError::Task(format!("config: {e}")))?;
    std::fs::write(&config_path, config_json).map_err(io_err(&config_path))?;

    // The task, its tools and the SFT data.
    let dataset = SyntheticDataset::generate(&SyntheticConfig {
        seed: config.seed,
        entities: config.entities,
        train_questions: config.train_questions,
        eval_questions: config.eval_questions,
        imperfect_fraction: config.imperfect_fraction,
        flaws: config.flaws.clone(),
        fact_documents: config.fact_documents,
        rl_entity_fraction: config.rl_entity_fraction,
        rl_questions: config.rl_questions,
        operations: config.operations.clone(),
        system_prompt: config.system_prompt,
        ..SyntheticConfig::default()
    })?;
    let corpus_path = out.join("corpus.jsonl");
    dataset.write_corpus(&corpus_path)?;
    let python = PythonConfig {
        policy: if config.allow_unsandboxed_python {
            SandboxPolicy::AllowUnsandboxed
        } else {
            SandboxPolicy::Required
        },
        ..PythonConfig::default()
    };
    let runner = setup::build_runner(&dataset, python)?;
    let reward = ArpoReward {
        format_penalty: config.format_penalty,
        ..ArpoReward::math()
    };
    let clock = Instant::now();
    let replays = setup::replay_demos(&runner, &dataset.demonstrations).await?;
    let tokenizer = setup::build_tokenizer(
        config.bpe_vocab,
        &dataset.demonstrations,
        &replays,
        &out.join("tokenizer.json"),
    )?;
    let examples = setup::sft_examples(tokenizer.as_ref(), &dataset.demonstrations, &replays)?;
    let data_seconds = clock.elapsed().as_secs_f64();

    // SFT cold start.
    let mut model_config = ModelConfig::small(tokenizer.vocab_size(), config.hidden, config.layers);
    // One key/value head per query head: copying names and numbers is the attention's whole job
    // here, and the extra width costs little at this size.
    model_config.num_key_value_heads = Some(model_config.num_attention_heads);
    let model = from_scratch::<B>(&model_config, config.seed, device)?;
    let sft_config = SftConfig {
        steps: config.sft_steps,
        batch_size: config.sft_batch,
        seed: config.seed,
        checkpoint_every: config.sft_steps.max(1),
        keep_checkpoints: 1,
    };
    let optimizer = OptimizerConfig {
        lr: config.sft_lr,
        weight_decay: 0.0,
        ..OptimizerConfig::default()
    };
    let sft_dir = out.join("sft");
    if !options.resume_sft {
        // A previous run's checkpoints would be refused: start this run clean.
        let _ = std::fs::remove_dir_all(&sft_dir);
    }
    let run = SftRun {
        config: &sft_config,
        optimizer: &optimizer,
        schedule: LrSchedule::Cosine {
            warmup: (config.sft_steps / 20).max(1) as usize,
            total: config.sft_steps as usize,
            min_lr: config.sft_lr * 0.05,
        },
        dir: &sft_dir,
        resume: options.resume_sft,
    };
    let pb = crate::progress::step_bar(config.sft_steps, "SFT", options.quiet);
    let clock = Instant::now();
    let every = (config.sft_steps / 10).max(1);
    let sft_model = run_sft(model, &examples, &run, |s| {
        if s.step % every == 0 || s.step == config.sft_steps {
            pb.suspend(|| {
                eprintln!(
                    "SFT step {:>4}: loss {:.4} tokens {:>5} lr {:.2e} grad-norm {:.3}",
                    s.step, s.loss, s.tokens, s.lr, s.grad_norm
                )
            });
        }
        pb.inc(1);
    })?;
    pb.finish_and_clear();
    let sft_seconds = clock.elapsed().as_secs_f64();
    // From the file, which also holds the steps before a resume.
    let sft_losses = sft_loss_curve(&sft_dir.join("metrics.jsonl"))?;
    Ok(Prepared {
        rl_tasks: if config.rl_questions > 0 {
            dataset.rl_tasks()
        } else {
            dataset.train_tasks()
        },
        eval_tasks: dataset.eval_tasks(),
        runner,
        reward,
        tokenizer,
        sft_model,
        sft_examples: examples.len(),
        sft_losses,
        data_seconds,
        sft_seconds,
    })
}

/// `(step, loss)` of every line of the SFT metrics file.
fn sft_loss_curve(path: &Path) -> Result<Vec<(f64, f64)>, QuickstartError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let s: SftStep = serde_json::from_str(line)
                .map_err(|e| QuickstartError::Task(format!("{}:{}: {e}", path.display(), i + 1)))?;
            Ok((s.step as f64, s.loss))
        })
        .collect()
}

/// Refuses to resume SFT written under other data, model or SFT settings.
fn check_resumable(config: &QuickstartConfig, path: &Path) -> Result<(), QuickstartError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let old: QuickstartConfig = serde_json::from_str(&text)
        .map_err(|e| QuickstartError::Config(format!("{}: {e}", path.display())))?;
    if old.sft_part() != config.sft_part() {
        return Err(QuickstartError::Config(format!(
            "{}: cannot resume SFT: the data, model or SFT settings differ from this run's",
            path.display()
        )));
    }
    Ok(())
}
