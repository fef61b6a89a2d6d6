//! Local BM25 retrieval with tantivy over a [`Document`] corpus, persisted in a directory (or
//! in memory for generated corpora).
//!
//! Like the usual Search-R1 / pyserini BM25 setup, one indexed field holds `title \n text`
//! (English stemming tokenizer); title and text are stored for display. Queries are not parsed as
//! tantivy query syntax: the model writes free text (quotes, colons, `AND`, parentheses), so the
//! query is tokenised with the index's analyzer and searched as a disjunction of its terms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::BooleanQuery;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use super::corpus::Document;
use super::Hit;
use crate::error::{Error, Result};

/// Tokenizer of the indexed field: lower-casing, long-token removal, English (Snowball) stemming.
const ANALYZER: &str = "en_stem";
/// Indexing memory budget (tantivy's minimum per thread is 15 MB).
const WRITER_BUDGET_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    text: Field,
    contents: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqs);
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", STORED),
        text: builder.add_text_field("text", STORED),
        contents: builder.add_text_field(
            "contents",
            TextOptions::default().set_indexing_options(indexing),
        ),
    };
    (builder.build(), fields)
}

/// A BM25 index over a corpus.
#[derive(Clone)]
pub struct Bm25Index {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    location: String,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("location", &self.location)
            .field("docs", &self.num_docs())
            .finish()
    }
}

impl Bm25Index {
    /// Builds an index in `dir` (created if missing; it must be empty) and opens it.
    pub fn build(dir: &Path, docs: impl IntoIterator<Item = Document>) -> Result<Self> {
        let location = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let non_empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some();
        if non_empty {
            return Err(Error::index(
                location,
                "directory is not empty; remove it or choose another",
            ));
        }
        let (schema, fields) = schema();
        let index = Index::create_in_dir(dir, schema).map_err(|e| Error::index(&location, e))?;
        Self::fill(index, fields, location, docs)
    }

    /// Builds an index in memory (for generated corpora and tests).
    pub fn build_in_ram(docs: impl IntoIterator<Item = Document>) -> Result<Self> {
        let (schema, fields) = schema();
        Self::fill(
            Index::create_in_ram(schema),
            fields,
            "<ram>".to_string(),
            docs,
        )
    }

    fn fill(
        index: Index,
        fields: Fields,
        location: String,
        docs: impl IntoIterator<Item = Document>,
    ) -> Result<Self> {
        let err = |e: tantivy::TantivyError| Error::index(&location, e);
        let mut writer: tantivy::IndexWriter = index
            .writer_with_num_threads(1, WRITER_BUDGET_BYTES)
            .map_err(err)?;
        for doc in docs {
            let mut d = TantivyDocument::default();
            d.add_text(fields.id, &doc.id);
            d.add_text(fields.title, &doc.title);
            d.add_text(fields.text, &doc.text);
            d.add_text(fields.contents, format!("{}\n{}", doc.title, doc.text));
            writer.add_document(d).map_err(err)?;
        }
        writer.commit().map_err(err)?;
        writer.wait_merging_threads().map_err(err)?;
        Self::with_index(index, location)
    }

    /// Opens an index built by [`Bm25Index::build`].
    pub fn open(dir: &Path) -> Result<Self> {
        let location = dir.display().to_string();
        let index = Index::open_in_dir(dir).map_err(|e| Error::index(&location, e))?;
        Self::with_index(index, location)
    }

    fn with_index(index: Index, location: String) -> Result<Self> {
        let schema = index.schema();
        let field = |name: &str| {
            schema.get_field(name).map_err(|_| {
                Error::index(
                    &location,
                    format!("field `{name}` missing: not an arpo-tools index"),
                )
            })
        };
        let fields = Fields {
            id: field("id")?,
            title: field("title")?,
            text: field("text")?,
            contents: field("contents")?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| Error::index(&location, e))?;
        Ok(Self {
            index,
            reader,
            fields,
            location,
        })
    }

    /// Number of indexed documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Where the index lives (`<ram>` for in-memory).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The `top_k` best documents for `query` by BM25, each with a query-focused snippet of at
    /// most about `snippet_chars` characters. A query with no indexable term returns no hits.
    pub fn search(&self, query: &str, top_k: usize, snippet_chars: usize) -> Result<Vec<Hit>> {
        let err = |e: tantivy::TantivyError| Error::index(&self.location, e);
        let mut analyzer = self
            .index
            .tokenizer_for_field(self.fields.contents)
            .map_err(err)?;
        let mut words = BTreeSet::new();
        let mut stream = analyzer.token_stream(query);
        while stream.advance() {
            words.insert(stream.token().text.clone());
        }
        drop(stream);
        if words.is_empty() || top_k == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let terms: Vec<Term> = words
            .iter()
            .map(|w| Term::from_field_text(self.fields.contents, w))
            .collect();
        // Snippet terms weighted like tantivy's own generator: rarer terms count more.
        let mut weights = BTreeMap::new();
        for term in &terms {
            let df = searcher.doc_freq(term).map_err(err)?;
            if df > 0 {
                if let Some(word) = term.value().as_str() {
                    weights.insert(word.to_string(), 1.0 / (1.0 + df as f32));
                }
            }
        }
        let query = BooleanQuery::new_multiterms_query(terms);
        let top = searcher
            .search(&query, &TopDocs::with_limit(top_k).order_by_score())
            .map_err(err)?;
        let snippets =
            SnippetGenerator::new(weights, analyzer, self.fields.text, snippet_chars.max(1));
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(err)?;
            let get = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let text = get(self.fields.text);
            let snippet = match snippets.snippet(&text) {
                s if s.fragment().trim().is_empty() => lead(&text, snippet_chars),
                s => widen(&text, s.fragment_range()),
            };
            hits.push(Hit {
                id: get(self.fields.id),
                title: get(self.fields.title),
                snippet,
                score,
            });
        }
        Ok(hits)
    }
}

/// The fragment `range` of `text` widened to whole words (tantivy cuts at token ends, dropping a
/// final `.`), with `… ` / ` …` marking text left out on either side.
fn widen(text: &str, range: std::ops::Range<usize>) -> String {
    let start = range.start.min(text.len());
    let end = range.end.clamp(start, text.len());
    let (Some(before), Some(after)) = (text.get(..start), text.get(end..)) else {
        return text.trim().to_string();
    };
    // Just after the last whitespace character before the fragment (it may be multi-byte).
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = end + after.find(char::is_whitespace).unwrap_or(after.len());
    let core = text.get(start..end).unwrap_or(text).trim();
    let head = if text[..start].trim().is_empty() {
        ""
    } else {
        "… "
    };
    let tail = if text[end..].trim().is_empty() {
        ""
    } else {
        " …"
    };
    format!("{head}{core}{tail}")
}

/// The start of `text`, cut at a word boundary to at most `max_chars` characters, with ` …` when
/// cut (the style of web-search snippets in the reference cache).
pub(crate) fn lead(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    // Cut at the last word boundary unless the limit already falls on one.
    let on_boundary = text[cut..].starts_with(char::is_whitespace);
    let head = if on_boundary {
        head
    } else {
        head.rfind(char::is_whitespace).map_or(head, |i| &head[..i])
    };
    format!("{} …", head.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            title: title.into(),
            text: text.into(),
        }
    }

    #[test]
    fn ranks_by_term_match_and_handles_query_syntax_characters() {
        let index = Bm25Index::build_in_ram([
            doc(
                "1",
                "Paris",
                "Paris is the capital and largest city of France.",
            ),
            doc("2", "Berlin", "Berlin is the capital of Germany."),
            doc("3", "Cheese", "Cheese is a dairy product."),
        ])
        .expect("index");
        assert_eq!(index.num_docs(), 3);
        // Characters that are tantivy query syntax must not break or change the search.
        for q in [
            "capital of France",
            "capital: \"France\" AND (city",
            "title:France -capital",
        ] {
            let hits = index.search(q, 2, 80).expect("search");
            assert_eq!(hits[0].id, "1", "query {q}");
        }
        // Stemming: "cities" matches "city".
        assert_eq!(
            index.search("largest cities", 1, 80).expect("search")[0].id,
            "1"
        );
        assert!(index.search("!!! ???", 3, 80).expect("search").is_empty());
        assert!(index.search("zzzz", 3, 80).expect("search").is_empty());
    }

    #[test]
    fn widen_keeps_whole_words_and_marks_cuts() {
        let text = "Alpha beta gamma. Delta epsilon.";
        assert_eq!(widen(text, 0..16), "Alpha beta gamma. …");
        assert_eq!(widen(text, 19..26), "… Delta epsilon.");
        assert_eq!(widen(text, 0..text.len() - 1), text);
        assert_eq!(widen("é ü", 0..2), "é …");
        // A multi-byte space (U+00A0) before the fragment.
        assert_eq!(widen("ab\u{a0}cd ef", 4..6), "… cd …");
        assert_eq!(
            widen("é ü", 0..1),
            "é ü",
            "a range inside a character falls back to the whole text"
        );
    }

    #[test]
    fn lead_cuts_on_words() {
        assert_eq!(lead("one two three", 100), "one two three");
        assert_eq!(lead("one two three", 9), "one two …");
        assert_eq!(lead("éééé ééé", 5), "éééé …");
    }

    #[test]
    fn persisted_index_reopens_and_refuses_non_empty_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("idx");
        Bm25Index::build(&path, [doc("a", "Alpha", "alpha particle physics")]).expect("build");
        let reopened = Bm25Index::open(&path).expect("open");
        assert_eq!(
            reopened.search("particle", 1, 50).expect("search")[0].id,
            "a"
        );
        let err = Bm25Index::build(&path, [doc("b", "B", "b")]).expect_err("non-empty");
        assert!(err.to_string().contains("not empty"), "{err}");
    }
}
