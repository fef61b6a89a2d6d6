//! The `train` and `sft` examples' paths end to end at test size: a random tiny policy, a TOML
//! run configuration, and for `train` the committed verl-layout parquet fixture as training and
//! validation prompts, for `sft` a few ShareGPT conversations. Checked: one metrics line per
//! step, validation before training and after every step, a checkpoint, the exported HF folder,
//! `--resume` continuing to more steps without repeating one, and errors that name the bad
//! option or file.

use std::path::{Path, PathBuf};

use arpo::train::sft_loop::SftStep;
use arpo::train::{StepMetrics, ValidationMetrics};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/arpo-eval/tests/fixtures/rl/valid_tiny.parquet"
);

const CONFIG: &str = r#"
seed = 3

[optimizer]
lr = 1e-3

[ppo]
batch_prompts = 2
mini_batch_prompts = 2
steps = 2
temperature = 1.0

[checkpoint]
every = 1
keep = 2

[validation]
every = 1

[rollout]
max_response_tokens = 12
max_tool_result_tokens = 64
end_on_tool_limit = true

[rollout.sampling]
temperature = 1.0
top_k = 0
top_p = 1.0
repetition_penalty = 1.0

[rollout.mode.Trajectory]
samples = 2
"#;

fn lines<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn train(config: &Path, out: &Path, extra: &[&str]) -> anyhow::Result<PathBuf> {
    let mut args: Vec<String> = [
        "train",
        "--config",
        &config.display().to_string(),
        "--model",
        "tiny",
        "--data",
        FIXTURE,
        "--val-data",
        FIXTURE,
        "--val-limit",
        "2",
        "--out",
        &out.display().to_string(),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    arpo::rl_cli::run_cli(args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_writes_metrics_validation_checkpoints_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("run.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = tmp.path().join("run");
    let dir = train(&config, &out, &[]).await.expect("train");
    assert_eq!(dir, out);
    let steps: Vec<StepMetrics> = lines(&out.join("metrics.jsonl"));
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), [1, 2]);
    assert!(steps
        .iter()
        .all(|s| s.leaves == 2 * 2 && s.loss.is_finite()));
    let validation: Vec<ValidationMetrics> = lines(&out.join("validation.jsonl"));
    assert_eq!(
        validation.iter().map(|v| v.step).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(validation.iter().all(|v| v.responses == 2));
    for file in ["model.safetensors", "config.json"] {
        assert!(out.join("final").join(file).is_file(), "final/{file}");
    }
    let latest = arpo::train::checkpoint::Checkpoint::latest(&out)
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(latest.state.step, 2);

    // One more step from the last checkpoint: steps 1..=3, each once.
    train(&config, &out, &["--resume", "--steps", "3"])
        .await
        .expect("resume");
    let steps: Vec<StepMetrics> = lines(&out.join("metrics.jsonl"));
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), [1, 2, 3]);
    let validation: Vec<ValidationMetrics> = lines(&out.join("validation.jsonl"));
    assert_eq!(
        validation.iter().map(|v| v.step).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
}

#[tokio::test]
async fn bad_options_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("run.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = tmp.path().join("run");
    let err = train(&config, &out, &["--reward", "bleu"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--reward bleu"), "{err}");
    std::fs::write(&config, "[rollout.mode.Beam]\nwidth = 2\n").unwrap();
    let err = format!("{:#}", train(&config, &out, &[]).await.unwrap_err());
    assert!(err.contains("rollout") && err.contains("Beam"), "{err}");
}

const SFT_CONFIG: &str = "seed = 1\n\n[optimizer]\nlr = 1e-3\n\n[sft]\nsteps = 2\nbatch_size = 2\n\
                          checkpoint_every = 1\nkeep_checkpoints = 2\n";

const CONVERSATIONS: &str = r#"[
 {"conversations": [{"from": "human", "value": "What is 2 + 3?"},
                    {"from": "gpt", "value": "<python> 2 + 3 </python> <answer> \\boxed{5} </answer>"}]},
 {"conversations": [{"from": "human", "value": "Capital of France?"},
                    {"from": "gpt", "value": "<search> capital of France </search> <answer> \\boxed{Paris} </answer>"}]},
 {"conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "hi"}]}
]"#;

async fn sft(dir: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<PathBuf> {
    let config = dir.join("sft.toml");
    std::fs::write(&config, SFT_CONFIG).unwrap();
    let out = dir.join("sft");
    let mut args: Vec<String> = ["sft", "--model", "tiny", "--quiet"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (flag, path) in [
        ("--config", &config),
        ("--data", &data.to_path_buf()),
        ("--out", &out),
    ] {
        args.extend([flag.to_string(), path.display().to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    arpo::sft_cli::run_cli(args).await
}

#[tokio::test]
async fn sft_trains_on_sharegpt_exports_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("convs.json");
    std::fs::write(&data, CONVERSATIONS).unwrap();
    let out = sft(tmp.path(), &data, &[]).await.expect("sft");
    let steps: Vec<SftStep> = lines(&out.join("metrics.jsonl"));
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), [1, 2]);
    assert!(steps.iter().all(|s| s.loss.is_finite() && s.tokens > 0));
    assert!(out.join("final/model.safetensors").is_file());
    sft(tmp.path(), &data, &["--resume", "--steps", "3"])
        .await
        .expect("resume");
    let steps: Vec<SftStep> = lines(&out.join("metrics.jsonl"));
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), [1, 2, 3]);

    // A record with an unknown speaker: the error names the file and the record.
    std::fs::write(
        &data,
        r#"[{"conversations": [{"from": "robot", "value": "x"}]}]"#,
    )
    .unwrap();
    let err = format!("{:#}", sft(tmp.path(), &data, &[]).await.unwrap_err());
    assert!(
        err.contains("convs.json[0]") && err.contains("robot"),
        "{err}"
    );
}
