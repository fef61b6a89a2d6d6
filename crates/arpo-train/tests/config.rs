//! The run configuration: the committed example TOML parses, round-trips, rejects unknown
//! fields with their location, and the presets carry the values the docs and papers name.

use arpo_rollout::RolloutMode;
use arpo_train::advantage::{keeps_group, OverlongPenalty};
use arpo_train::config::{Estimator, ForwardMode};
use arpo_train::optim::LrSchedule;
use arpo_train::{Attribution, KlEstimator, LossAgg, TrainConfig};

#[test]
fn example_toml_parses_and_round_trips() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/example.toml");
    let c = TrainConfig::load(std::path::Path::new(path)).unwrap();
    assert_eq!(c.seed, 7);
    assert_eq!(c.loss.clip_high, 0.28);
    assert_eq!(c.loss.agg, LossAgg::TokenMean);
    assert_eq!(c.loss.kl.unwrap().estimator, KlEstimator::K3);
    assert_eq!(c.loss.entropy_advantage.unwrap().alpha, 0.2);
    assert_eq!(c.advantage.estimator, Estimator::Grpo { eps: 1e-6 });
    assert_eq!(c.advantage.attribution, Attribution::Soft);
    assert_eq!(
        c.schedule,
        LrSchedule::Cosine {
            warmup: 10,
            total: 200,
            min_lr: 1e-7
        }
    );
    assert_eq!(c.ppo.forward, ForwardMode::Packed);
    assert_eq!(c.sft.batch_size, 16);
    let rollout = c.rollout_config(vec![2]).unwrap();
    assert_eq!(rollout.mode.leaves(), 16);
    assert!(matches!(&rollout.mode, RolloutMode::Arpo(a) if a.initial == 8));
    assert_eq!(rollout.stop_tokens, [2], "the tokenizer's stop tokens");
    assert_eq!(rollout.sampling.temperature, c.ppo.temperature);
    assert_eq!(c.validation.every, 10);
    let back = TrainConfig::from_toml(&c.to_toml().unwrap(), "round trip").unwrap();
    assert_eq!(back, c);
}

#[test]
fn unknown_fields_and_bad_values_are_located() {
    let err = TrainConfig::from_toml("[loss]\nclip_lo = 0.2\n", "run.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("run.toml") && err.contains("clip_lo") && err.contains("line 2"),
        "{err}"
    );
    let err = TrainConfig::from_toml("[loss]\nagg = \"mean\"\n", "run.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("token-mean"), "{err}");
    // Empty input: every default.
    assert_eq!(
        TrainConfig::from_toml("", "empty").unwrap(),
        TrainConfig::default()
    );
}

#[test]
fn presets_carry_the_reference_values() {
    let a = TrainConfig::arpo();
    assert_eq!(
        (a.loss.clip_low, a.loss.clip_high, a.loss.dual_clip),
        (0.2, 0.2, Some(3.0))
    );
    assert_eq!(
        (
            a.optimizer.lr,
            a.optimizer.weight_decay,
            a.optimizer.max_grad_norm
        ),
        (1e-6, 0.01, Some(1.0))
    );
    assert_eq!(
        (a.ppo.batch_prompts, a.ppo.mini_batch_prompts, a.ppo.epochs),
        (128, 16, 1)
    );
    assert!(a.loss.kl.is_none() && a.loss.entropy_advantage.is_none());
    let d = TrainConfig::dapo(4096);
    assert_eq!(d.loss.clip_high, 0.28);
    assert!(d.advantage.dynamic_sampling);
    assert!(matches!(
        TrainConfig::reinforce_pp().advantage.estimator,
        Estimator::ReinforcePp { .. }
    ));
    assert_eq!(TrainConfig::grpo().loss.agg, LossAgg::SeqMeanTokenMean);
}

#[test]
fn dapo_overlong_penalty_and_dynamic_sampling() {
    // DAPO eq. 13 with L_max = 100, L_cache = 20: 0 up to 80, linear to −1 at 100, −1 after.
    let p = OverlongPenalty {
        max_len: 100,
        buffer: 20,
        factor: 1.0,
    };
    assert_eq!(p.penalty(80), 0.0);
    assert_eq!(p.penalty(90), -0.5);
    assert_eq!(p.penalty(100), -1.0);
    assert_eq!(p.penalty(150), -1.0);
    assert!(keeps_group(&[0.0, 1.0, 0.0]));
    assert!(!keeps_group(&[1.0, 1.0]) && !keeps_group(&[0.5]));
}

#[test]
fn a_bad_rollout_table_is_refused_naming_it() {
    let c = TrainConfig::from_toml("[rollout.mode.Beam]\nwidth = 2\n", "run.toml").unwrap();
    let err = c.rollout_config(vec![]).unwrap_err().to_string();
    assert!(err.contains("rollout") && err.contains("Beam"), "{err}");
}
