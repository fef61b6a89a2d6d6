//! The quickstart pipeline end to end at smoke size (a few steps of SFT, ARPO and GRPO), checking
//! that every report file is produced and well-formed: JSON that parses into the typed records
//! with the expected counts and step numbers, SVG charts with their lines, the two HTML rollout
//! trees and the validation curves. Also checked against properties that must hold: GRPO never
//! branches, ARPO and GRPO grow the same number of leaves per step, both validate the same SFT
//! weights alike before RL, and the table has the three stages.

use arpo::backend::Training;
use arpo::eval::QuestionRecord;
use arpo::quickstart::{run, QuickstartConfig, QuickstartReport, RunOptions};
use arpo::train::sft_loop::SftStep;
use arpo::train::{StepMetrics, ValidationMetrics};

fn lines<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_quickstart_writes_a_well_formed_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report");
    let mut config = QuickstartConfig::smoke(7, out.clone());
    // The pipeline is under test here, not the sandbox (arpo-tools tests that).
    config.allow_unsandboxed_python = true;
    let options = RunOptions {
        quiet: true,
        resume_sft: false,
    };
    let report = run::<Training>(&config, &Default::default(), options)
        .await
        .expect("quickstart");

    let stages: Vec<&str> = report.rows.iter().map(|r| r.stage.as_str()).collect();
    assert_eq!(stages, ["SFT", "ARPO", "GRPO"]);
    let table = report.table();
    assert_eq!(table.lines().count(), 2 + 3, "{table}");

    let summary: QuickstartReport = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("summary.json parses");
    assert_eq!(summary.config, config);
    assert_eq!(summary.rows.len(), 3);
    assert!(std::fs::read_to_string(out.join("report.md"))
        .expect("report.md")
        .contains("| ARPO |"));

    let sft: Vec<SftStep> = lines(&out.join("sft/metrics.jsonl"));
    assert_eq!(
        sft.iter().map(|s| s.step).collect::<Vec<_>>(),
        (1..=config.sft_steps).collect::<Vec<_>>()
    );
    assert!(sft.iter().all(|s| s.loss.is_finite() && s.tokens > 0));

    for method in ["arpo", "grpo"] {
        let steps: Vec<StepMetrics> = lines(&out.join(format!("{method}/metrics.jsonl")));
        assert_eq!(
            steps.iter().map(|s| s.step).collect::<Vec<_>>(),
            (1..=config.rl_steps).collect::<Vec<_>>(),
            "{method}"
        );
        for s in &steps {
            assert_eq!(s.leaves, config.rl_prompts * config.leaves, "{method}");
            assert!(s.loss.is_finite() && s.reward_mean.is_finite(), "{method}");
            if method == "grpo" {
                assert_eq!(s.branch_copies, 0, "GRPO never branches");
            }
        }
        let records: Vec<QuestionRecord> = lines(&out.join(format!("eval/{method}.jsonl")));
        assert_eq!(records.len(), config.eval_questions);
        // Validation before RL and after every step (smoke: validate_every 1).
        let validation: Vec<ValidationMetrics> =
            lines(&out.join(format!("{method}/validation.jsonl")));
        assert_eq!(
            validation.iter().map(|v| v.step).collect::<Vec<_>>(),
            (0..=config.rl_steps).collect::<Vec<_>>(),
            "{method}"
        );
        assert!(validation
            .iter()
            .all(|v| v.responses == config.validation_questions));
    }
    // Both methods start from the same SFT weights and validate with the same streams.
    let (arpo, grpo) = (&report.rows[1].validation, &report.rows[2].validation);
    assert_eq!(
        (arpo[0].accuracy, arpo[0].reward_mean),
        (grpo[0].accuracy, grpo[0].reward_mean),
        "the step-0 validations differ"
    );
    assert!(report.validation_text().contains("- ARPO: "));
    let sft_records: Vec<QuestionRecord> = lines(&out.join("eval/sft.jsonl"));
    assert_eq!(sft_records.len(), config.eval_questions);
    assert!(sft_records.iter().all(|r| r.response.is_some()));

    let curve = std::fs::read_to_string(out.join("learning_curve.svg")).expect("svg");
    assert!(curve.starts_with("<svg") && curve.trim_end().ends_with("</svg>"));
    assert_eq!(
        curve.matches("<polyline").count(),
        4,
        "ARPO and GRPO, training and validation"
    );
    for svg in ["tool_calls.svg", "sft_loss.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).expect(svg);
        assert!(
            text.starts_with("<svg") && text.contains("<polyline"),
            "{svg}"
        );
    }
    for tree in ["trees/arpo-start.html", "trees/arpo-end.html"] {
        let html = std::fs::read_to_string(out.join(tree)).expect(tree);
        assert!(
            html.contains("<html") && html.trim_end().ends_with("</html>"),
            "{tree}"
        );
    }
    let corpus = std::fs::read_to_string(out.join("corpus.jsonl")).expect("corpus");
    assert!(corpus.lines().count() >= config.entities);

    // The exported ARPO policy runs in the `chat` example over the run's corpus, with the
    // command line report.md prints (shortened budget and leaves).
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    let command = md
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("report.md shows a chat command");
    let mut argv = shell_words(command);
    let at = argv
        .iter()
        .position(|a| a == "--")
        .expect("-- before the options");
    argv.drain(..at);
    argv[0] = "chat".into();
    let html = dir.path().join("chat.html");
    let replace = |argv: &mut Vec<String>, flag: &str, value: &str| {
        let i = argv.iter().position(|a| a == flag).expect(flag);
        argv[i + 1] = value.to_string();
    };
    replace(&mut argv, "--samples", "4");
    replace(&mut argv, "--initial", "2");
    replace(&mut argv, "--max-tokens", "40");
    argv.extend(["--html".to_string(), html.display().to_string()]);
    let out_chat = arpo::chat::run_cli(&argv)
        .await
        .expect("chat on the exported policy");
    assert_eq!(out_chat.trees[0].leaves.len(), 4);
    let page = std::fs::read_to_string(&html).expect("chat html");
    assert!(page.contains("<html") && page.trim_end().ends_with("</html>"));
}

/// Splits a shell command line as report.md writes it: spaces, `\` line continuations and one
/// level of double quotes with `\"` escapes.
fn shell_words(command: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, command.chars().peekable());
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            '\\' if quoted => word.extend(chars.next()),
            '\\' => {}
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// A finished SFT is reused by `resume_sft` (no step retrained, the same metrics file), and a
/// folder written under other SFT settings is refused with a message naming its config file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_reuses_finished_sft_and_refuses_other_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report");
    let mut config = QuickstartConfig::smoke(3, out.clone());
    config.allow_unsandboxed_python = true;
    config.rl_steps = 1;
    let fresh = RunOptions {
        quiet: true,
        resume_sft: false,
    };
    run::<Training>(&config, &Default::default(), fresh)
        .await
        .expect("first run");
    let metrics = out.join("sft/metrics.jsonl");
    let before = std::fs::read_to_string(&metrics).expect("sft metrics");

    let resume = RunOptions {
        quiet: true,
        resume_sft: true,
    };
    // Other RL settings may change on resume.
    config.rl_steps = 2;
    let report = run::<Training>(&config, &Default::default(), resume)
        .await
        .expect("resumed run");
    assert_eq!(
        std::fs::read_to_string(&metrics).expect("sft metrics"),
        before
    );
    assert_eq!(report.rows[1].rl_steps, 2);

    config.sft_lr *= 2.0;
    let err = run::<Training>(&config, &Default::default(), resume)
        .await
        .expect_err("other SFT settings");
    assert!(err.to_string().contains("config.json"), "{err}");
}
