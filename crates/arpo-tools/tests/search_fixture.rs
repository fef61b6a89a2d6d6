//! Search on the committed fixtures: the BM25 index against an independent Python BM25
//! (scripts/tools/bm25_reference.py → tests/fixtures/bm25_reference.json), the persisted index,
//! the `Page i:` output, and the replay cache against a slice of the reference
//! `search_cache.json` (every cached query must return its cached text verbatim).

use std::path::{Path, PathBuf};

use arpo_core::Tool;
use arpo_tools::search::corpus::read_jsonl;
use arpo_tools::search::{
    Bm25Index, PageFormat, ReplayCache, SearchBackend, SearchConfig, SearchTool,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_index() -> Bm25Index {
    let docs = read_jsonl(&fixture("wiki_fixture.jsonl")).expect("fixture corpus");
    assert_eq!(docs.len(), 49);
    Bm25Index::build_in_ram(docs).expect("index")
}

#[test]
fn bm25_agrees_with_the_python_reference() {
    let index = fixture_index();
    let reference: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture("bm25_reference.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(reference.len(), 14);
    for (query, expected) in &reference {
        let expected: Vec<(String, f32)> = expected
            .as_array()
            .expect("list")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("id").to_string(),
                    p[1].as_f64().expect("score") as f32,
                )
            })
            .collect();
        let hits = index.search(query, 5, 200).expect("search");
        assert_eq!(hits[0].id, expected[0].0, "top hit for {query:?}");
        let ours: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        let theirs: Vec<&str> = expected.iter().take(5).map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{query:?}: number of matching documents (top 5)"
        );
        let shared = ours.iter().filter(|id| theirs.contains(id)).count();
        assert!(
            shared >= theirs.len().min(4),
            "{query:?}: tantivy {ours:?} vs reference {theirs:?}"
        );
        // Scores match up to tantivy's one-byte document-length encoding.
        for hit in &hits {
            if let Some((_, score)) = expected.iter().find(|(id, _)| *id == hit.id) {
                let rel = (hit.score - score).abs() / score;
                assert!(
                    rel < 0.05,
                    "{query:?} {}: tantivy {} vs reference {score}",
                    hit.id,
                    hit.score
                );
            }
        }
    }
}

#[tokio::test]
async fn fixture_searches_read_like_the_reference() {
    let tool = SearchTool::new(
        SearchConfig {
            top_k: 3,
            snippet_chars: 160,
            page_format: PageFormat::TitleAndSnippet,
            ..SearchConfig::default()
        },
        None,
        SearchBackend::Bm25(fixture_index()),
    )
    .expect("tool");
    let out = tool
        .call("Who discovered penicillin?")
        .await
        .expect("search");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("Page {}: ", i + 1)), "{line}");
        // Title + snippet of at most 160 characters plus the cut markers.
        let snippet = line.splitn(3, ": ").nth(2).expect("snippet");
        assert!(snippet.chars().count() <= 160 + 4, "{snippet}");
    }
    assert!(
        lines[0].starts_with("Page 1: Penicillin: ") && out.contains("Alexander Fleming"),
        "{out}"
    );
    assert_eq!(
        tool.call("qwxzz vrrbl").await.expect("search"),
        "No search results found."
    );
}

#[test]
fn the_index_persists_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wiki-index");
    let built = Bm25Index::build(
        &path,
        read_jsonl(&fixture("wiki_fixture.jsonl")).expect("corpus"),
    )
    .expect("build");
    let before = built
        .search("tallest mountain on Earth", 3, 100)
        .expect("search");
    drop(built);
    let reopened = Bm25Index::open(&path).expect("open");
    assert_eq!(reopened.num_docs(), 49);
    assert_eq!(
        reopened
            .search("tallest mountain on Earth", 3, 100)
            .expect("search"),
        before
    );
    assert_eq!(before[0].title, "Mount Everest");
}

#[tokio::test]
async fn replay_cache_slice_returns_every_cached_text_verbatim() {
    let cache = ReplayCache::load(&fixture("search_cache_slice.json")).expect("cache");
    let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture("search_cache_slice.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(cache.len(), raw.len());
    // Cache in front of a real backend: cached queries never reach it, others do.
    let tool = SearchTool::new(
        SearchConfig::default(),
        Some(cache),
        SearchBackend::Bm25(fixture_index()),
    )
    .expect("tool");
    for (query, text) in &raw {
        assert_eq!(
            tool.call(query).await.as_deref(),
            Ok(text.as_str().expect("string")),
            "query {query:?}"
        );
    }
    // The reference's own format: `Page i: …` lines (or its no-result sentence).
    let texts: Vec<&str> = raw.values().filter_map(|v| v.as_str()).collect();
    assert!(texts
        .iter()
        .all(|t| t.starts_with("Page 1: ") || *t == "No search results found."));
    assert!(tool
        .call("Mount Everest height")
        .await
        .expect("bm25")
        .starts_with("Page 1: Mount Everest: "));
}

/// The full reference cache (1,000 queries): every query returns its cached text. Needs the
/// file, so it is ignored by default; run with
/// `ARPO_SEARCH_CACHE=/work/shared/corpus/search_cache.json cargo test -p arpo-tools -- --ignored`.
#[tokio::test]
#[ignore = "needs the reference search_cache.json (ARPO_SEARCH_CACHE)"]
async fn full_reference_cache_replays_every_query() {
    let path = std::env::var("ARPO_SEARCH_CACHE")
        .unwrap_or_else(|_| "/work/shared/corpus/search_cache.json".into());
    let raw: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read the cache"))
            .expect("json");
    let tool = SearchTool::new(
        SearchConfig::default(),
        Some(ReplayCache::load(Path::new(&path)).expect("cache")),
        SearchBackend::CacheOnly,
    )
    .expect("tool");
    for (query, text) in &raw {
        assert_eq!(
            tool.call(query).await.as_deref(),
            Ok(text.as_str().expect("string")),
            "query {query:?}"
        );
    }
    assert_eq!(raw.len(), 1000);
}
