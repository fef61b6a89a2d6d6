//! Property tests of the search path on arbitrary text: building an index, querying it and
//! formatting pages never panic (snippet cutting works on byte offsets, where multi-byte
//! characters such as U+00A0 are easy to split), and every formatted line keeps its shape.

use arpo_tools::search::corpus::Document;
use arpo_tools::search::{format_pages, Bm25Index, Hit, PageFormat};
use proptest::prelude::*;

/// Words mixing ASCII, accented letters, CJK, emoji and odd spaces (U+00A0, U+2009, U+3000).
fn texty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "alpha", "beta", "Paris", "é", "naïve", "東京", "🚀", "\u{a0}", "\u{2009}", "\u{3000}",
        " ", "\n", ".", ",", "x", "42", "\u{301}",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat()),
        any::<String>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn search_never_panics(texts in prop::collection::vec(texty(), 1..6), query in texty(), chars in 1usize..120) {
        let docs = texts.iter().enumerate().map(|(i, t)| Document { id: i.to_string(), title: format!("T{i}"), text: t.clone() });
        let index = Bm25Index::build_in_ram(docs).expect("index");
        let hits = index.search(&query, 3, chars).expect("search");
        prop_assert!(hits.len() <= 3);
        let out = format_pages(&hits, PageFormat::TitleAndSnippet, chars);
        if !hits.is_empty() {
            prop_assert_eq!(out.lines().count(), hits.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    #[test]
    fn page_formatting_never_panics_and_respects_the_limit(snippet in texty(), title in texty(), chars in 1usize..80) {
        let hit = Hit { id: "1".into(), title, snippet, score: 1.0 };
        let out = format_pages(std::slice::from_ref(&hit), PageFormat::Snippet, chars);
        prop_assert!(out.starts_with("Page 1: "));
        prop_assert!(!out.contains('\n'));
        // The snippet part is at most `chars` characters plus the " …" marker.
        prop_assert!(out["Page 1: ".len()..].chars().count() <= chars + 2);
    }
}
