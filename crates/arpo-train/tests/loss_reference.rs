//! Policy loss and its gradient w.r.t. the log-probs against verl's `compute_policy_loss` /
//! `agg_loss` / `kl_penalty`, reimplemented in PyTorch by scripts/train/verl_policy_loss.py on
//! fixed random inputs (fixture committed); tolerance 1e-5.

use arpo_train::{policy_loss, KlEstimator, KlPenalty, LossAgg, PolicyLossConfig, PolicyLossInput};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;

type B = Autodiff<Flex>;

#[derive(Deserialize)]
struct Kl {
    coef: f64,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Case {
    agg: LossAgg,
    clip_low: f64,
    clip_high: f64,
    clip_ratio_c: f64,
    kl: Option<Kl>,
    loss: f64,
    pg_loss: f64,
    kl_loss: Option<f64>,
    pg_clipfrac: f64,
    ppo_kl: f64,
    pg_clipfrac_lower: f64,
    grad: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Fixture {
    rows: usize,
    width: usize,
    old_log_prob: Vec<Vec<f32>>,
    log_prob: Vec<Vec<f32>>,
    ref_log_prob: Vec<Vec<f32>>,
    advantages: Vec<Vec<f32>>,
    response_mask: Vec<Vec<f32>>,
    cases: Vec<Case>,
}

fn tensor(rows: &[Vec<f32>], shape: [usize; 2]) -> Tensor<B, 2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, shape), &Default::default())
}

#[test]
fn loss_and_gradient_match_verl_reference() {
    let _graphs = arpo_train::autodiff_section();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/verl_policy_loss.json"
    ))
    .unwrap();
    let fx: Fixture = serde_json::from_str(&text).unwrap();
    let shape = [fx.rows, fx.width];
    let mut worst_loss = 0.0f64;
    let mut worst_grad = 0.0f64;
    let mut dual_clipped = 0.0;
    for (i, case) in fx.cases.iter().enumerate() {
        let logprobs = tensor(&fx.log_prob, shape).require_grad();
        let kl = case.kl.as_ref().map(|k| KlPenalty {
            coef: k.coef,
            estimator: match k.kind.as_str() {
                "k1" => KlEstimator::K1,
                "k3" => KlEstimator::K3,
                other => panic!("fixture KL type {other}"),
            },
        });
        let config = PolicyLossConfig {
            clip_low: case.clip_low,
            clip_high: case.clip_high,
            dual_clip: Some(case.clip_ratio_c),
            agg: case.agg,
            kl,
            entropy_advantage: None,
        };
        let input = PolicyLossInput {
            logprobs: logprobs.clone(),
            old_logprobs: tensor(&fx.old_log_prob, shape),
            advantages: tensor(&fx.advantages, shape),
            mask: tensor(&fx.response_mask, shape),
            ref_logprobs: Some(tensor(&fx.ref_log_prob, shape)),
            entropies: None,
        };
        let (loss, stats) = policy_loss(input, &config).unwrap();
        let value = f64::from(loss.clone().into_data().to_vec::<f32>().unwrap()[0]);
        let grads = loss.backward();
        let grad = logprobs
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let expected: Vec<f32> = case.grad.iter().flatten().copied().collect();
        let gdiff = grad
            .iter()
            .zip(&expected)
            .map(|(a, b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        let ldiff = (value - case.loss).abs();
        assert!(
            ldiff <= 1e-5,
            "case {i}: loss {value} vs verl {}",
            case.loss
        );
        assert!(gdiff <= 1e-5, "case {i}: gradient differs by {gdiff}");
        assert!(
            (stats.pg_loss - case.pg_loss).abs() <= 1e-5,
            "case {i}: pg_loss"
        );
        if let (Some(a), Some(b)) = (stats.kl_loss, case.kl_loss) {
            assert!((a - b).abs() <= 1e-5, "case {i}: kl_loss {a} vs {b}");
        }
        assert!(
            (stats.clip_frac - case.pg_clipfrac).abs() <= 1e-6,
            "case {i}: clip fraction"
        );
        assert!(
            (stats.dual_clip_frac - case.pg_clipfrac_lower).abs() <= 1e-6,
            "case {i}: dual-clip fraction"
        );
        assert!(
            (stats.approx_kl - case.ppo_kl).abs() <= 1e-5,
            "case {i}: ppo_kl"
        );
        assert_eq!(stats.tokens, 47);
        worst_loss = worst_loss.max(ldiff);
        worst_grad = worst_grad.max(gdiff);
        dual_clipped += case.pg_clipfrac_lower;
    }
    // The inputs must exercise the dual clip, or the comparison would not cover it.
    assert!(dual_clipped > 0.0);
    eprintln!("verl reference: max |Δloss| = {worst_loss:.3e}, max |Δgrad| = {worst_grad:.3e} over {} cases", fx.cases.len());
}

#[test]
fn entropy_advantage_scales_by_entropy_z_score() {
    let _graphs = arpo_train::autodiff_section();
    // Hand check of the stated AEPO formula on 3 tokens with ratio 1 (no clipping): the loss
    // is −mean(Â·(1 + α·z)), z the z-score of the entropies over trained tokens.
    let t =
        |v: Vec<f32>| Tensor::<B, 2>::from_data(TensorData::new(v, [1, 4]), &Default::default());
    let h = [0.5f32, 1.0, 3.0];
    let mean = (0.5 + 1.0 + 3.0) / 3.0;
    let std = (h.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / 2.0).sqrt();
    let adv = [1.0f32, -2.0, 0.5];
    let expected: f32 = -adv
        .iter()
        .zip(&h)
        .map(|(a, x)| a * (1.0 + 0.2 * (x - mean) / (std + 1e-6)))
        .sum::<f32>()
        / 3.0;
    let input = PolicyLossInput {
        logprobs: t(vec![-1.0, -2.0, -0.5, 0.0]),
        old_logprobs: t(vec![-1.0, -2.0, -0.5, 0.0]),
        advantages: t(vec![1.0, -2.0, 0.5, 9.0]),
        mask: t(vec![1.0, 1.0, 1.0, 0.0]),
        ref_logprobs: None,
        entropies: Some(t(vec![0.5, 1.0, 3.0, 100.0])),
    };
    let config = PolicyLossConfig {
        entropy_advantage: Some(arpo_train::EntropyAdvantage { alpha: 0.2 }),
        ..Default::default()
    };
    let (loss, stats) = policy_loss(input, &config).unwrap();
    let value = loss.into_data().to_vec::<f32>().unwrap()[0];
    assert!((value - expected).abs() < 1e-6, "{value} vs {expected}");
    assert!((stats.entropy_mean.unwrap() - f64::from(mean)).abs() < 1e-6);
    assert_eq!((stats.ratio_min, stats.ratio_max), (1.0, 1.0));
}
