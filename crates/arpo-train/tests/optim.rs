//! AdamW with global grad-norm clipping against the update written out by hand (Loshchilov &
//! Hutter; PyTorch `clip_grad_norm_`), schedules against their closed forms, and gradient
//! accumulation against the gradient of the summed loss.

use arpo_train::optim::{grad_norm, GradAccumulator, LrSchedule, Optim, OptimizerConfig};
use burn::backend::{Autodiff, Flex};
use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

type B = Autodiff<Flex>;

fn linear(w: &[f32]) -> Linear<B> {
    let device = Default::default();
    let mut l = LinearConfig::new(2, 3).with_bias(false).init::<B>(&device);
    l.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(w.to_vec(), [2, 3]),
        &device,
    ));
    l
}

/// Gradients of `sum(weight ⊙ c)`, which are `c`.
fn grads_for(l: &Linear<B>, c: &[f32]) -> GradientsParams {
    let ct = Tensor::<B, 2>::from_data(TensorData::new(c.to_vec(), [2, 3]), &Default::default());
    let loss = l.weight.val().mul(ct).sum();
    GradientsParams::from_grads(loss.backward(), l)
}

fn weights(l: &Linear<B>) -> Vec<f32> {
    l.weight.val().into_data().to_vec::<f32>().unwrap()
}

#[test]
fn adamw_first_step_with_global_clip_matches_the_formula() {
    let _graphs = arpo_train::autodiff_section();
    let w0 = [0.5f32, -1.0, 2.0, 0.0, 0.25, -0.75];
    let c = [3.0f32, -4.0, 0.0, 12.0, 0.5, -0.5];
    let norm = c.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    let config = OptimizerConfig {
        lr: 0.1,
        weight_decay: 0.01,
        max_grad_norm: Some(1.0),
        ..Default::default()
    };
    let l = linear(&w0);
    let g = grads_for(&l, &c);
    assert!((grad_norm::<B, _>(&l, &g) - norm).abs() < 1e-4);
    let mut opt = Optim::<B, Linear<B>>::new(config.clone(), LrSchedule::Constant);
    let (l1, stats) = opt.step(l, g);
    assert!(stats.clipped && (stats.grad_norm - norm).abs() < 1e-4 && stats.lr == 0.1);
    // First step: m̂ = ĝ, v̂ = ĝ², so the update is ĝ / (|ĝ| + eps), ĝ the clipped gradient.
    let scale = 1.0 / (norm + 1e-6);
    for (i, (&w, &g)) in w0.iter().zip(&c).enumerate() {
        let gh = f64::from(g) * scale;
        let expect = f64::from(w) * (1.0 - 0.1 * 0.01) - 0.1 * gh / (gh.abs() + 1e-8);
        let got = f64::from(weights(&l1)[i]);
        assert!((got - expect).abs() < 1e-5, "weight {i}: {got} vs {expect}");
    }
    assert_eq!(opt.step, 1);
}

#[test]
fn schedules_follow_their_closed_forms() {
    let _graphs = arpo_train::autodiff_section();
    let w = LrSchedule::Warmup { steps: 4 };
    let got: Vec<f64> = (0..6).map(|s| w.lr(2.0, s)).collect();
    assert_eq!(got, vec![0.5, 1.0, 1.5, 2.0, 2.0, 2.0]);
    let c = LrSchedule::Cosine {
        warmup: 2,
        total: 6,
        min_lr: 0.1,
    };
    assert_eq!(c.lr(1.0, 0), 0.5);
    assert!((c.lr(1.0, 2) - 1.0).abs() < 1e-12);
    assert!((c.lr(1.0, 4) - 0.55).abs() < 1e-12);
    assert!((c.lr(1.0, 6) - 0.1).abs() < 1e-12);
    assert!((c.lr(1.0, 60) - 0.1).abs() < 1e-12);
    assert_eq!(LrSchedule::Constant.lr(3.0, 1000), 3.0);
}

#[test]
fn accumulated_gradients_equal_the_gradient_of_the_summed_loss() {
    let _graphs = arpo_train::autodiff_section();
    let l = linear(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let a = [1.0f32, 0.0, -2.0, 0.5, 0.5, 3.0];
    let b = [0.25f32, 1.0, 1.0, -1.0, 0.0, 2.0];
    let mut acc = GradAccumulator::new(2);
    assert!(acc.push::<B>(&l, grads_for(&l, &a)).is_none());
    let summed = acc.push::<B>(&l, grads_for(&l, &b)).unwrap();
    let got = summed
        .get::<Flex, 2>(l.weight.id)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    assert_eq!(got, want);
}
