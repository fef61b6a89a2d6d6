//! Kill -9 in the middle of an RL run, then resume: the final weights are bit-identical to an
//! uninterrupted run with the same seed, and the metrics and validation logs hold every step
//! exactly once with the same values (wall times aside). The run uses DAPO dynamic sampling with refill (so the
//! task position advances by a varying amount per step) and a warm-up schedule (so a wrong
//! optimiser step after resume would change the learning rate). The runs are child processes
//! (this test binary re-run on the ignored `rl_child` test), the kill a real SIGKILL.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use arpo_model::tokenizer::ByteTokenizer;
use arpo_rollout::RolloutMode;
use arpo_train::export::export_hf;
use arpo_train::optim::LrSchedule;
use arpo_train::{run_rl, RlContext, StepMetrics, TrainConfig, ValidationMetrics};
use common::rl::{model, no_tools, rollout_config, runtime, tasks, EvenTasksUniform};

const STEPS: u64 = 6;

fn config(dir: &Path, resume: bool) -> TrainConfig {
    let mut c = TrainConfig::dapo(64);
    c.seed = 21;
    c.optimizer.lr = 1e-2;
    c.optimizer.weight_decay = 0.0;
    c.schedule = LrSchedule::Warmup { steps: 20 };
    c.ppo.batch_prompts = 2;
    c.ppo.mini_batch_prompts = 1;
    c.ppo.steps = STEPS;
    c.checkpoint.dir = dir.join("checkpoints");
    // Every second step: a kill after an odd step redoes a step whose metrics line exists.
    c.checkpoint.every = 2;
    c.checkpoint.keep = 2;
    c.checkpoint.resume = resume;
    // Validation at 0, 3 and 6: a kill after step 3's metrics line can land before its
    // validation line, which the resumed run must then write once.
    c.validation.every = 3;
    c
}

/// The run that the children perform: 7 tasks (so epochs end mid-batch), half of them uniform.
#[test]
#[ignore = "entry point of the child processes of rl_kill_and_resume_is_bit_exact"]
fn rl_child() {
    let _graphs = arpo_train::autodiff_section();
    let Ok(dir) = std::env::var("ARPO_RL_CHILD_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let resume = std::env::var("ARPO_RL_RESUME").is_ok();
    let delay = std::env::var("ARPO_RL_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tok = ByteTokenizer::with_tool_tags();
    let train = config(dir, resume);
    let rollout = rollout_config(&tok, RolloutMode::Trajectory { samples: 4 }, 8);
    let ctx = RlContext {
        tokenizer: &tok,
        runner: no_tools(),
        reward: &EvenTasksUniform,
        rollout: &rollout,
        train: &train,
        validation_tasks: &tasks(3),
    };
    let trained = runtime()
        .block_on(run_rl(
            model(&tok, 11),
            None,
            &tasks(7),
            &ctx,
            &dir.join("metrics.jsonl"),
            |_| std::thread::sleep(Duration::from_millis(delay)),
        ))
        .unwrap();
    export_hf(&trained, &dir.join("final")).unwrap();
}

fn child(dir: &Path, resume: bool, delay_ms: u64) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["rl_child", "--exact", "--ignored", "--test-threads=1"])
        .env("ARPO_RL_CHILD_DIR", dir)
        .env("ARPO_RL_DELAY_MS", delay_ms.to_string());
    if resume {
        cmd.env("ARPO_RL_RESUME", "1");
    }
    cmd.stdout(std::process::Stdio::null()).spawn().unwrap()
}

fn lines<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn metric_lines(dir: &Path) -> Vec<StepMetrics> {
    lines(&dir.join("metrics.jsonl"))
}

/// Validation lines without their wall times.
fn validation_lines(dir: &Path) -> Vec<ValidationMetrics> {
    let mut v: Vec<ValidationMetrics> = lines(&dir.join("validation.jsonl"));
    for m in &mut v {
        m.seconds = 0.0;
    }
    v
}

/// The metrics without their wall times (which differ from run to run).
fn timeless(mut m: Vec<StepMetrics>) -> Vec<StepMetrics> {
    for s in &mut m {
        s.seconds = 0.0;
        s.rollout_seconds = 0.0;
    }
    m
}

#[test]
fn rl_kill_and_resume_is_bit_exact() {
    let _graphs = arpo_train::autodiff_section();
    let tmp = tempfile::tempdir().unwrap();
    let (straight, killed) = (tmp.path().join("straight"), tmp.path().join("killed"));
    assert!(child(&straight, false, 0).wait().unwrap().success());

    let mut victim = child(&killed, false, 300);
    let start = Instant::now();
    while metric_lines(&killed).len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "child made no progress"
        );
        assert!(
            victim.try_wait().unwrap().is_none(),
            "child ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let before = metric_lines(&killed).len() as u64;
    assert!(
        before < STEPS && !killed.join("final").exists(),
        "the kill must land mid-run"
    );
    assert!(child(&killed, true, 0).wait().unwrap().success());

    let a = std::fs::read(straight.join("final/model.safetensors")).unwrap();
    let b = std::fs::read(killed.join("final/model.safetensors")).unwrap();
    assert!(a == b, "final weights differ after kill -9 and resume");
    let (ma, mb) = (metric_lines(&straight), metric_lines(&killed));
    assert_eq!(
        mb.iter().map(|s| s.step).collect::<Vec<_>>(),
        (1..=STEPS).collect::<Vec<_>>(),
        "a step was lost or repeated"
    );
    let prompts: Vec<usize> = ma.iter().map(|s| s.prompts_sampled).collect();
    assert!(
        prompts.iter().any(|&p| p > 2),
        "no step refilled, so the task position was never tested: {prompts:?}"
    );
    assert_eq!(timeless(ma), timeless(mb), "per-step metrics differ");
    let (va, vb) = (validation_lines(&straight), validation_lines(&killed));
    assert_eq!(
        va.iter().map(|v| v.step).collect::<Vec<_>>(),
        [0, 3, 6],
        "validation before training, every 3 steps and after the last"
    );
    assert_eq!(va, vb, "validation lines differ after kill -9 and resume");
    eprintln!(
        "killed after {before} logged steps; resumed to {STEPS}; prompts per step {prompts:?}; \
         final weights identical ({} bytes)",
        a.len()
    );
}
