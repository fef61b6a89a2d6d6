//! `ByteTokenizer` properties: decode(encode(s)) == s for any text (specials included), special
//! tags are single ids, and decoding arbitrary in-vocabulary ids never fails or panics.

use arpo_core::Tokenizer;
use arpo_model::tokenizer::ByteTokenizer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PIECES: [&str; 12] = [
    "a",
    "é",
    "日",
    "🙂",
    " ",
    "\n",
    "<",
    ">",
    "<|im_start|>",
    "<|im_end|>",
    "<python>",
    "</search>",
];

#[test]
fn round_trip_random_texts() {
    let tok = ByteTokenizer::with_tool_tags();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..500 {
        let len = rng.random_range(0..30);
        let text: String = (0..len)
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect();
        let ids = tok.encode(&text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text);
        let n_specials = ids.iter().filter(|&&i| i >= 256).count();
        let expected: usize = ["<|im_start|>", "<|im_end|>", "<python>", "</search>"]
            .iter()
            .map(|s| text.matches(s).count())
            .sum();
        assert_eq!(n_specials, expected, "{text:?}");
    }
}

#[test]
fn random_ids_decode_without_panic() {
    let tok = ByteTokenizer::with_tool_tags();
    assert_eq!(tok.vocab_size(), 270);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..200 {
        let ids: Vec<u32> = (0..rng.random_range(0..40))
            .map(|_| rng.random_range(0..270))
            .collect();
        tok.decode(&ids).unwrap();
    }
    assert!(tok.decode(&[270]).is_err());
}
