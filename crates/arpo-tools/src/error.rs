//! The one error type of arpo-tools: construction and I/O failures (never tool-call outcomes,
//! which are observations for the model).

use std::path::PathBuf;

/// Errors raised when building or configuring a tool, an index or a runner.
///
/// Failures *during* a tool call are not errors of this type: they become
/// [`arpo_core::ToolError`] and then an observation for the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Input data is malformed; `location` names the file and line or the field.
    #[error("{location}: {message}")]
    Parse {
        /// Where the problem is, e.g. `corpus.jsonl:17` or `search_cache.json: key "x"`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The Python sandbox could not be created (bubblewrap missing or not permitted here).
    #[error("python sandbox unavailable: {0}")]
    SandboxUnavailable(String),
    /// The search index failed (tantivy error), with the index directory when there is one.
    #[error("search index {path}: {message}")]
    Index {
        /// Index directory, or `<ram>` for an in-memory index.
        path: String,
        /// What tantivy reported.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] that names the path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Parse`] for a location (file, file:line or field).
    pub fn parse(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Parse {
            location: location.into(),
            message: message.into(),
        }
    }

    /// Builds an [`Error::Index`] for an index location.
    pub fn index(path: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Index {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
