//! Per-token text for entropy colouring: how a model segment is cut into coloured pieces.

use std::fmt;

use arpo_core::{Segment, TokenId, Tokenizer};

/// How the HTML page gets the text of single tokens.
#[derive(Clone, Copy, Default)]
pub enum TokenText<'a> {
    /// No per-token text: each model segment shows `segment.text` coloured by its mean entropy.
    #[default]
    SegmentText,
    /// Text of one token id; every token becomes one coloured piece.
    Decode(&'a dyn Fn(TokenId) -> String),
    /// Decode with the model's tokenizer. A token whose bytes end inside a UTF-8 character
    /// (byte-level BPE) is joined with the following ones (up to [`MAX_RUN`] tokens) until they
    /// decode to whole characters; the run is coloured by its mean entropy.
    Tokenizer(&'a dyn Tokenizer),
}

impl fmt::Debug for TokenText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SegmentText => "SegmentText",
            Self::Decode(_) => "Decode(..)",
            Self::Tokenizer(_) => "Tokenizer(..)",
        })
    }
}

/// Longest run of tokens joined to complete a UTF-8 character (a character has at most 4
/// bytes; the margin covers tokenizers that emit single bits of a character per token).
pub const MAX_RUN: usize = 8;

/// A coloured piece of a segment: tokens `start..end` (segment positions) and their text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The pieces of `segment`, or `None` when `mode` has no per-token text or the tokenizer fails
/// (the caller then shows the segment text whole).
pub(crate) fn pieces(segment: &Segment, mode: &TokenText<'_>) -> Option<Vec<Piece>> {
    let ids = &segment.tokens;
    match mode {
        TokenText::SegmentText => None,
        TokenText::Decode(decode) => Some(
            ids.iter()
                .enumerate()
                .map(|(i, &id)| Piece {
                    start: i,
                    end: i + 1,
                    text: decode(id),
                })
                .collect(),
        ),
        TokenText::Tokenizer(tokenizer) => {
            let mut out = Vec::new();
            let mut start = 0;
            for end in 1..=ids.len() {
                let text = tokenizer.decode(&ids[start..end]).ok()?;
                let incomplete = text.ends_with('\u{FFFD}');
                if incomplete && end < ids.len() && end - start < MAX_RUN {
                    continue;
                }
                out.push(Piece { start, end, text });
                start = end;
            }
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arpo_core::{ChatMessage, Origin, Result};

    /// Byte tokenizer: token id = byte value, decoded lossily like a byte-level BPE.
    struct Bytes;

    impl Tokenizer for Bytes {
        fn encode(&self, text: &str) -> Result<Vec<TokenId>> {
            Ok(text.bytes().map(TokenId::from).collect())
        }
        fn decode(&self, ids: &[TokenId]) -> Result<String> {
            let bytes: Vec<u8> = ids.iter().map(|&i| i as u8).collect();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        fn vocab_size(&self) -> usize {
            256
        }
        fn stop_token_ids(&self) -> Vec<TokenId> {
            Vec::new()
        }
        fn apply_chat_template(&self, _: &[ChatMessage], _: bool) -> Result<String> {
            Ok(String::new())
        }
    }

    #[test]
    fn tokenizer_pieces_join_split_characters_and_cover_the_segment() {
        let text = "a€🦀b";
        let seg = Segment::forced(Origin::Model, Bytes.encode(text).unwrap(), text.into());
        let got = pieces(&seg, &TokenText::Tokenizer(&Bytes)).unwrap();
        let want = [(0, 1, "a"), (1, 4, "€"), (4, 8, "🦀"), (8, 9, "b")];
        let got: Vec<_> = got
            .iter()
            .map(|p| (p.start, p.end, p.text.as_str()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn invalid_bytes_are_cut_after_max_run() {
        let ids = vec![0xF0; MAX_RUN + 2];
        let seg = Segment::forced(Origin::Model, ids, String::new());
        let got = pieces(&seg, &TokenText::Tokenizer(&Bytes)).unwrap();
        let spans: Vec<_> = got.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(spans, [(0, MAX_RUN), (MAX_RUN, MAX_RUN + 2)]);
        assert!(pieces(&seg, &TokenText::SegmentText).is_none());
    }
}
