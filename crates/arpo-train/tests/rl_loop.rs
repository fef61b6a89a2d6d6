//! The RL loop's options on a tiny from-scratch model: a rollout temperature that differs from
//! the trainer's is refused; gradient accumulation gives the weights of one full mini-batch
//! backward; DAPO dynamic sampling refills the batch from the next tasks and advances the task
//! position by every prompt rolled out; validation is logged when configured, repeats itself on
//! the same policy, and changes no training number.

mod common;

use arpo_core::{Domain, Task, Tokenizer};
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::{from_scratch, ModelConfig};
use arpo_rollout::RolloutMode;
use arpo_train::rl::TaskPosition;
use arpo_train::rl::{recompute_old_logprobs, rollout_inputs, validate, validation_path};
use arpo_train::{
    rl_step, run_rl, Error, LossAgg, Optim, RlContext, RlEvent, StepMetrics, TaskCursor,
    TrainConfig, ValidationMetrics,
};
use common::rl::{
    max_abs_diff, model, no_tools, rollout_config, runtime, tasks, weights, EvenTasksUniform, B,
};

fn base_config() -> TrainConfig {
    let mut c = TrainConfig::arpo();
    c.seed = 4;
    c.optimizer.lr = 1e-2;
    c.optimizer.weight_decay = 0.0;
    c.ppo.batch_prompts = 4;
    c.ppo.mini_batch_prompts = 4;
    c
}

/// One `rl_step` from the same initial weights and seed: (updated weights, metrics, where the
/// task cursor ended).
fn one_step(train: &TrainConfig, n_tasks: usize) -> (Vec<f32>, StepMetrics, TaskPosition) {
    let tok = ByteTokenizer::with_tool_tags();
    let mut rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 4 }, 10);
    // Bytes 0–63 also end a response (a quarter of the untrained model's draws), so responses
    // have different lengths and micro-batches different token and row shares.
    rollout.stop_tokens.extend(0..64);
    let ctx = RlContext {
        tokenizer: &tok,
        runner: no_tools(),
        reward: &EvenTasksUniform,
        rollout: &rollout,
        train,
        validation_tasks: &[],
    };
    let tasks = tasks(n_tasks);
    let mut cursor = TaskCursor::new(&tasks, TaskPosition::default()).unwrap();
    let mut optim = Optim::<B, _>::new(train.optimizer.clone(), train.schedule);
    let (trained, m) = runtime()
        .block_on(rl_step(
            model(&tok, 3),
            &mut optim,
            None,
            &mut cursor,
            &ctx,
            0,
            17,
        ))
        .unwrap();
    (weights(&trained), m, cursor.position())
}

#[test]
fn a_rollout_temperature_other_than_the_trainers_is_refused_naming_both() {
    let _graphs = arpo_train::autodiff_section();
    let tok = ByteTokenizer::with_tool_tags();
    let dir = tempfile::tempdir().unwrap();
    let mut train = base_config();
    train.checkpoint.dir = dir.path().join("checkpoints");
    train.ppo.temperature = 1.0;
    let mut rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 2 }, 4);
    rollout.sampling.temperature = 0.7;
    let ctx = RlContext {
        tokenizer: &tok,
        runner: no_tools(),
        reward: &EvenTasksUniform,
        rollout: &rollout,
        train: &train,
        validation_tasks: &[],
    };
    let metrics = dir.path().join("metrics.jsonl");
    let err = runtime()
        .block_on(run_rl(
            model(&tok, 1),
            None,
            &tasks(2),
            &ctx,
            &metrics,
            |_| {},
        ))
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Usage(_)), "{text}");
    assert!(
        text.contains("rollout.sampling.temperature = 0.7")
            && text.contains("train.ppo.temperature = 1"),
        "{text}"
    );
    // Refused before any work: nothing written.
    assert!(!metrics.exists() && !train.checkpoint.dir.exists());
}

#[test]
fn grad_accumulation_gives_the_weights_of_one_full_mini_batch() {
    let _graphs = arpo_train::autodiff_section();
    for agg in [LossAgg::TokenMean, LossAgg::SeqMeanTokenMean] {
        let mut one = base_config();
        one.loss.agg = agg;
        // AdamW's first step is lr·g/(|g| + eps): with the default eps it is about lr·sign(g)
        // and hides the scale of g. With eps 1 and no clipping the update is close to linear
        // in g, so a wrongly weighted micro-batch sum shows in the weights.
        one.optimizer.eps = 1.0;
        one.optimizer.max_grad_norm = None;
        one.optimizer.lr = 1.0;
        let mut two = one.clone();
        two.ppo.grad_accum = 2;
        let (w1, m1, _) = one_step(&one, 4);
        let (w2, m2, _) = one_step(&two, 4);
        let w0 = weights(&model(&ByteTokenizer::with_tool_tags(), 3));
        // One mini-batch of 4 trees: one optimiser step from 1 backward pass, or from 2.
        assert_eq!((m1.updates, m1.micro_batches), (1, 1), "{agg:?}");
        assert_eq!((m2.updates, m2.micro_batches), (1, 2), "{agg:?}");
        assert_eq!(m1.reward_mean, m2.reward_mean, "same rollouts expected");
        let moved = max_abs_diff(&w0, &w1);
        let diff = max_abs_diff(&w1, &w2);
        eprintln!("{agg:?}: largest weight change {moved:.3e}, accum 2 vs 1 differ by {diff:.3e}");
        assert!(moved > 1e-3, "{agg:?}: the step did not move the weights");
        assert!(
            diff <= 1e-5,
            "{agg:?}: accumulated update differs by {diff}"
        );
        assert!(
            (m1.loss - m2.loss).abs() < 1e-6,
            "{} vs {}",
            m1.loss,
            m2.loss
        );
    }
}

/// One `rl_step` of a 2-layer width-64 model on prompts of different lengths, the rollout
/// decoding at most `max_batch_rows` paths per forward: (weights, metrics).
fn one_step_batched(train: &TrainConfig, max_batch_rows: Option<usize>) -> (Vec<f32>, StepMetrics) {
    let tok = ByteTokenizer::with_tool_tags();
    let mut rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 4 }, 24);
    rollout.stop_tokens.extend(0..48);
    rollout.max_batch_rows = max_batch_rows;
    let ctx = RlContext {
        tokenizer: &tok,
        runner: no_tools(),
        reward: &EvenTasksUniform,
        rollout: &rollout,
        train,
        validation_tasks: &[],
    };
    let tasks: Vec<Task> = (0..4)
        .map(|i| {
            let question = format!("Say something{}.", " more".repeat(3 * i));
            Task::new(format!("t{i}"), "toy", Domain::Math, question, vec![])
        })
        .collect();
    let config = ModelConfig::small(tok.vocab_size(), 64, 2);
    let model = from_scratch::<B>(&config, 3, &Default::default()).unwrap();
    let mut cursor = TaskCursor::new(&tasks, TaskPosition::default()).unwrap();
    let mut optim = Optim::<B, _>::new(train.optimizer.clone(), train.schedule);
    let (trained, m) = runtime()
        .block_on(rl_step(model, &mut optim, None, &mut cursor, &ctx, 0, 17))
        .unwrap();
    (weights(&trained), m)
}

#[test]
fn recomputed_old_logprobs_make_the_update_independent_of_rollout_batching() {
    let _graphs = arpo_train::autodiff_section();
    // All paths decoded in shared forwards, or one at a time: the same tokens are drawn (each
    // path has its own stream), but the rollout's log-probs differ in their last bits (padding
    // to the longest row, kernel choice by batch height), and with them the PPO ratio. With the
    // trainer's recomputed old log-probs the weights must be bit-identical either way. (This
    // model's layers are below arpo-model's few-row kernel size, so burn's batch-height-
    // dependent products decode it.)
    let mut identical = Vec::new();
    for recompute in [false, true] {
        let mut train = base_config();
        train.ppo.recompute_old_logprobs = recompute;
        let (w_batched, m_batched) = one_step_batched(&train, None);
        let (w_single, m_single) = one_step_batched(&train, Some(1));
        assert_eq!(
            m_batched.generated_tokens, m_single.generated_tokens,
            "the rollouts drew different tokens"
        );
        let diff = max_abs_diff(&w_batched, &w_single);
        eprintln!("recompute {recompute}: batched vs one-at-a-time weights differ by {diff:.3e}");
        identical.push(w_batched == w_single);
    }
    // The premise: with the rollout's log-probs, batching does change the weights here (AdamW's
    // first step is about lr·sign(g), so a last-bit change of a tiny gradient shows).
    assert!(
        !identical[0],
        "batching changed nothing: the test shows nothing"
    );
    assert!(
        identical[1],
        "recomputed old log-probs: the weights must be identical"
    );
}

#[test]
fn recomputed_old_logprobs_and_entropies_match_the_rollouts_own() {
    let _graphs = arpo_train::autodiff_section();
    // Against the rollout engine's sampler (f64 log-softmax on the host, batched decoding): the
    // trainer's packed forward must give the same numbers up to float rounding, on trained
    // tokens only.
    let tok = ByteTokenizer::with_tool_tags();
    let rollout_cfg = rollout_config(&tok, RolloutMode::Trajectory { samples: 3 }, 16);
    let model = from_scratch::<burn::backend::Flex>(
        &ModelConfig::small(tok.vocab_size(), 64, 2),
        5,
        &Default::default(),
    )
    .unwrap();
    let inputs = rollout_inputs(&tok, &tasks(2)).unwrap();
    let out = runtime()
        .block_on(arpo_rollout::rollout(
            &model,
            &tok,
            no_tools(),
            &inputs,
            &rollout_cfg,
            9,
        ))
        .unwrap();
    let mut recomputed = out.trees.clone();
    let mut train = base_config();
    train.ppo.temperature = rollout_cfg.sampling.temperature;
    recompute_old_logprobs(&model, &mut recomputed, &train).unwrap();
    let (mut checked, mut worst_lp, mut worst_h) = (0, 0f32, 0f32);
    for (a, b) in out.trees.iter().zip(&recomputed) {
        for (na, nb) in a.nodes.iter().zip(&b.nodes) {
            for (sa, sb) in na.segments.iter().zip(&nb.segments) {
                assert_eq!(sa.tokens, sb.tokens);
                for i in 0..sa.tokens.len() {
                    if !sa.loss_mask[i] {
                        assert_eq!(sa.logprobs[i], sb.logprobs[i], "untrained token changed");
                        continue;
                    }
                    checked += 1;
                    worst_lp = worst_lp.max((sa.logprobs[i] - sb.logprobs[i]).abs());
                    worst_h = worst_h.max((sa.entropies[i] - sb.entropies[i]).abs());
                }
            }
        }
    }
    eprintln!("{checked} trained tokens: log-prob within {worst_lp:.1e}, entropy {worst_h:.1e}");
    assert!(checked > 20, "only {checked} trained tokens");
    assert!(worst_lp < 1e-5 && worst_h < 1e-5, "{worst_lp} {worst_h}");
}

#[test]
fn dynamic_sampling_refills_from_the_next_tasks_and_advances_the_position() {
    let _graphs = arpo_train::autodiff_section();
    // Tasks t0..t9; even-numbered ones score uniformly and are dropped. Round 0 rolls out
    // t0 t1 t2 and keeps t1; at that keep rate (1 of 3) the 2 missing groups need 6 prompts,
    // capped at one batch: round 1 rolls out t3 t4 t5 and keeps t3 t5.
    let mut train = base_config();
    train.ppo.batch_prompts = 3;
    train.ppo.mini_batch_prompts = 3;
    train.advantage.dynamic_sampling = true;
    let (_, m, pos) = one_step(&train, 10);
    assert_eq!(
        (m.prompts_sampled, m.groups_kept, m.rollout_rounds),
        (6, 3, 2)
    );
    assert_eq!(m.leaves, 6 * 4);
    assert_eq!(m.trees_trained, 3);
    assert_eq!(pos, TaskPosition { next: 6, epoch: 0 });

    // One task, t0, which scores uniformly: no round keeps anything (each rolls out a full
    // batch of 3), so the cap of 2 refill rounds ends the step after 9 prompts, no update.
    train.advantage.max_refill_rounds = 2;
    let (_, m, pos) = one_step(&train, 1);
    assert_eq!(
        (
            m.prompts_sampled,
            m.groups_kept,
            m.rollout_rounds,
            m.updates
        ),
        (9, 0, 3, 0)
    );
    assert_eq!(pos, TaskPosition { next: 0, epoch: 9 });

    // Without dynamic sampling the uniform groups stay and nothing is refilled.
    train.advantage.dynamic_sampling = false;
    let (_, m, pos) = one_step(&train, 10);
    assert_eq!(
        (m.prompts_sampled, m.groups_kept, m.rollout_rounds),
        (3, 3, 1)
    );
    assert_eq!(pos, TaskPosition { next: 3, epoch: 0 });
}

/// Records what `run_rl` reports.
#[derive(Default)]
struct Log {
    steps: Vec<u64>,
    validations: Vec<ValidationMetrics>,
}

impl Log {
    fn record(&mut self, event: RlEvent<'_>) {
        match event {
            RlEvent::Step(m) => self.steps.push(m.step),
            RlEvent::Validation(v) => self.validations.push(v.clone()),
        }
    }
}

/// Three steps of `run_rl` with validation every `every` steps (0: off) on t0..t3: final
/// weights, per-step metrics without wall times, and what the observer saw.
fn run_with_validation(every: u64) -> (Vec<f32>, Vec<StepMetrics>, Log) {
    let tok = ByteTokenizer::with_tool_tags();
    let dir = tempfile::tempdir().unwrap();
    let mut train = base_config();
    train.ppo.batch_prompts = 2;
    train.ppo.mini_batch_prompts = 2;
    train.ppo.steps = 3;
    train.checkpoint.dir = dir.path().join("checkpoints");
    train.validation.every = every;
    train.validation.samples = 2;
    let rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 3 }, 8);
    let validation_tasks = tasks(4);
    let ctx = RlContext {
        tokenizer: &tok,
        runner: no_tools(),
        reward: &EvenTasksUniform,
        rollout: &rollout,
        train: &train,
        validation_tasks: &validation_tasks,
    };
    let metrics = dir.path().join("metrics.jsonl");
    let mut log = Log::default();
    let trained = runtime()
        .block_on(run_rl(
            model(&tok, 5),
            None,
            &tasks(6),
            &ctx,
            &metrics,
            |e| log.record(e),
        ))
        .unwrap();
    let mut steps: Vec<StepMetrics> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for s in &mut steps {
        s.seconds = 0.0;
        s.rollout_seconds = 0.0;
    }
    let logged: Vec<ValidationMetrics> = std::fs::read_to_string(validation_path(&metrics))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged, log.validations, "file and observer disagree");
    (weights(&trained), steps, log)
}

#[test]
fn validation_is_logged_as_configured_and_changes_no_training_number() {
    let _graphs = arpo_train::autodiff_section();
    let (w_off, m_off, log_off) = run_with_validation(0);
    let (w_on, m_on, log_on) = run_with_validation(2);
    assert!(log_off.validations.is_empty());
    assert_eq!(log_on.steps, [1, 2, 3]);
    // Before training, every 2 steps, and after the last.
    let at: Vec<u64> = log_on.validations.iter().map(|v| v.step).collect();
    assert_eq!(at, [0, 2, 3]);
    for v in &log_on.validations {
        assert_eq!(v.responses, 4 * 2, "4 tasks × 2 samples");
        // The reward of t0 and t2 is 0.5 whatever the text; of t1 and t3 a hash in [0, 1):
        // the mean cannot be 0.5 exactly unless the hashes average to it.
        assert!((0.0..1.0).contains(&v.reward_mean), "{v:?}");
    }
    // Validation draws from its own streams: training is the same with and without it.
    assert_eq!(m_off, m_on, "per-step metrics changed by validation");
    assert!(w_off == w_on, "weights changed by validation");
}

#[test]
fn validating_the_same_policy_twice_gives_the_same_record() {
    let _graphs = arpo_train::autodiff_section();
    // Fixed prompts and sampling streams: two points of a validation curve differ by the policy
    // alone. Tasks t0 and t2 score 0.5 on any text (the mean of the uniform reward).
    let tok = ByteTokenizer::with_tool_tags();
    let mut train = base_config();
    train.validation.samples = 3;
    let rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 1 }, 8);
    let even: Vec<_> = tasks(4).into_iter().step_by(2).collect();
    let all = tasks(4);
    let ctx = |validation_tasks| RlContext {
        tokenizer: &tok,
        runner: no_tools(),
        reward: &EvenTasksUniform,
        rollout: &rollout,
        train: &train,
        validation_tasks,
    };
    let policy = model(&tok, 9);
    let policy = burn::module::AutodiffModule::valid(&policy);
    let rt = runtime();
    let (ctx_all, ctx_even) = (ctx(&all), ctx(&even));
    let mut a = rt.block_on(validate(&policy, &all, &ctx_all, 7)).unwrap();
    let mut b = rt.block_on(validate(&policy, &all, &ctx_all, 7)).unwrap();
    (a.seconds, b.seconds) = (0.0, 0.0);
    assert_eq!(a, b);
    assert_eq!((a.step, a.responses), (7, 12));
    let e = rt.block_on(validate(&policy, &even, &ctx_even, 0)).unwrap();
    assert_eq!((e.reward_mean, e.accuracy, e.format_errors), (0.5, 0.0, 0));
}
