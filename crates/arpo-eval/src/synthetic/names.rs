//! Invented proper names from syllables (`Vel` + `mo` + `ra` → `Velmora`): thousands of
//! combinations, none an English word, so a name is one rare search term that only its own
//! documents contain.

use std::collections::BTreeSet;

use super::draw::Draw;

const HEADS: [&str; 30] = [
    "Vel", "Dra", "Kor", "Mar", "Tal", "Bren", "Sor", "Quin", "Zan", "Hal", "Fen", "Lor", "Mir",
    "Ost", "Pell", "Rav", "Sil", "Tor", "Ul", "Wen", "Yar", "Cal", "Dun", "Eld", "Gar", "Isk",
    "Jor", "Nev", "Orm", "Tes",
];
const MIDDLES: [&str; 12] = [
    "", "mo", "da", "ri", "ke", "lu", "va", "no", "si", "te", "ba", "go",
];
const TAILS: [&str; 14] = [
    "ra", "vik", "dor", "len", "mar", "ton", "sk", "wyn", "rith", "nak", "ost", "und", "ka", "zar",
];

/// Draws distinct names. Two names count as the same when they agree after lower-casing and
/// dropping a final `a`/`e`/`s`, so that no stemmer can fold two names into one search term.
pub(crate) struct NameDraw {
    taken: BTreeSet<String>,
}

impl NameDraw {
    pub(crate) fn new() -> Self {
        Self {
            taken: BTreeSet::new(),
        }
    }

    /// A fresh name; `None` after `attempts` collisions in a row (the space is nearly used up).
    pub(crate) fn fresh(&mut self, draw: &mut Draw, attempts: usize) -> Option<String> {
        for _ in 0..attempts {
            let (Some(h), Some(m), Some(t)) =
                (draw.pick(&HEADS), draw.pick(&MIDDLES), draw.pick(&TAILS))
            else {
                return None;
            };
            let name = format!("{h}{m}{t}");
            if self.taken.insert(fold(&name)) {
                return Some(name);
            }
        }
        None
    }
}

fn fold(name: &str) -> String {
    let lower = name.to_lowercase();
    lower.trim_end_matches(['a', 'e', 's']).to_string()
}

/// How many distinct names the syllable lists can make (an upper bound on entities).
pub(crate) const NAME_SPACE: usize = HEADS.len() * MIDDLES.len() * TAILS.len();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_after_folding() {
        let mut draw = Draw::new(0, 0);
        let mut names = NameDraw::new();
        let got: Vec<String> = (0..300)
            .map(|_| names.fresh(&mut draw, 1000).expect("name"))
            .collect();
        let folded: BTreeSet<String> = got.iter().map(|n| fold(n)).collect();
        assert_eq!(folded.len(), got.len());
        assert!(got.iter().all(|n| n.len() >= 4 && n.is_ascii()));
    }
}
