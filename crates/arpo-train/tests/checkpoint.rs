//! Checkpoints: a save/restore in the middle of training continues bit-identically to never
//! stopping; damaged or partial files are skipped; RNG positions survive.

mod common;

use arpo_core::Tokenizer;
use arpo_model::tokenizer::ByteTokenizer;
use arpo_model::{from_scratch, CausalLm, ModelConfig};
use arpo_train::checkpoint::{self, file_name, Checkpoint, RngState, TrainState};
use arpo_train::optim::{LrSchedule, Optim, OptimizerConfig};
use arpo_train::sft::{sft_loss, tokenize_conversation, SftExample};
use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsParams;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = Autodiff<Flex>;

fn data() -> Vec<SftExample> {
    let tok = ByteTokenizer::new();
    assert_eq!(tok.vocab_size(), 260);
    common::sft_conversations()
        .iter()
        .map(|c| tokenize_conversation(&tok, c).unwrap())
        .collect()
}

fn step(
    model: CausalLm<B>,
    optim: &mut Optim<B, CausalLm<B>>,
    batch: &[&SftExample],
) -> CausalLm<B> {
    let (loss, _) = sft_loss(&model, batch).unwrap();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(model, grads).0
}

fn flat(model: &CausalLm<B>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    arpo_train::export::export_hf(model, dir.path()).unwrap();
    std::fs::read(dir.path().join("model.safetensors")).unwrap()
}

fn state(step: u64) -> TrainState {
    TrainState {
        step,
        data_position: 3,
        epoch: 0,
        rng: RngState::capture(&ChaCha8Rng::seed_from_u64(1)),
        extra: serde_json::json!({"k": 1}),
    }
}

#[test]
fn restore_then_step_equals_never_stopping() {
    let _graphs = arpo_train::autodiff_section();
    let device = Default::default();
    let config = ModelConfig::small(260, 32, 2);
    let data = data();
    let batch: Vec<&SftExample> = data.iter().take(4).collect();
    let opt_cfg = OptimizerConfig {
        lr: 1e-2,
        ..Default::default()
    };
    let schedule = LrSchedule::Warmup { steps: 4 };
    let mut optim = Optim::new(opt_cfg.clone(), schedule);
    let mut model: CausalLm<B> = from_scratch(&config, 1, &device).unwrap();
    for _ in 0..2 {
        model = step(model, &mut optim, &batch);
    }
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save(dir.path(), &state(2), &model, &optim).unwrap();
    let straight = flat(&step(model, &mut optim, &batch));

    let ck = Checkpoint::latest(dir.path()).unwrap().unwrap();
    assert_eq!(ck.state, state(2));
    let fresh: CausalLm<B> = from_scratch(&config, 99, &device).unwrap();
    let restored = ck.restore_model(fresh, &device).unwrap();
    let mut optim2 = ck
        .restore_optim(Optim::new(opt_cfg, schedule), &device)
        .unwrap();
    assert_eq!(optim2.step, 2);
    let resumed = flat(&step(restored, &mut optim2, &batch));
    assert!(
        straight == resumed,
        "weights after restore + step differ from the uninterrupted run"
    );
}

#[test]
fn damaged_and_partial_files_are_skipped() {
    let _graphs = arpo_train::autodiff_section();
    let device = Default::default();
    let model: CausalLm<B> = from_scratch(&ModelConfig::small(64, 16, 1), 2, &device).unwrap();
    let optim = Optim::<B, CausalLm<B>>::new(OptimizerConfig::default(), LrSchedule::Constant);
    let dir = tempfile::tempdir().unwrap();
    let good = checkpoint::save(dir.path(), &state(3), &model, &optim).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    // Step 4: cut in half (a writer killed without the temp-file protocol); step 5: one bit
    // flipped; step 6: not even the magic. All newer than step 3, all ignored.
    std::fs::write(dir.path().join(file_name(4)), &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 3] ^= 0x10;
    std::fs::write(dir.path().join(file_name(5)), flipped).unwrap();
    std::fs::write(dir.path().join(file_name(6)), b"garbage").unwrap();
    std::fs::write(dir.path().join(".step-00000007.ckpt.tmp-1"), &bytes).unwrap();
    let latest = Checkpoint::latest(dir.path()).unwrap().unwrap();
    assert_eq!(latest.state.step, 3);
    assert!(Checkpoint::read(&dir.path().join(file_name(5)))
        .unwrap_err()
        .to_string()
        .contains("hash"));
    checkpoint::prune(dir.path(), 1).unwrap();
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, vec![file_name(6)]);
    assert!(
        Checkpoint::latest(tempfile::tempdir().unwrap().path().join("none").as_path())
            .unwrap()
            .is_none()
    );
}

#[test]
fn rng_state_resumes_the_stream() {
    let _graphs = arpo_train::autodiff_section();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    for _ in 0..37 {
        rng.next_u32();
    }
    let saved = RngState::capture(&rng);
    let json = serde_json::to_string(&saved).unwrap();
    let mut back = serde_json::from_str::<RngState>(&json)
        .unwrap()
        .restore()
        .unwrap();
    let a: Vec<u64> = (0..8).map(|_| rng.next_u64()).collect();
    let b: Vec<u64> = (0..8).map(|_| back.next_u64()).collect();
    assert_eq!(a, b);
}
