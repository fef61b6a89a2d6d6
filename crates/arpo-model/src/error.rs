//! The error type of arpo-model.

use std::path::PathBuf;

/// Errors from loading, tokenizing and running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file or field is malformed; `location` names the file and field or offset.
    #[error("{location}: {message}")]
    Parse {
        /// File and field, e.g. `model/config.json: rope_theta`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The checkpoint lacks a tensor the architecture needs.
    #[error("{checkpoint}: missing tensor `{name}`")]
    MissingTensor {
        /// HF tensor name.
        name: String,
        /// The checkpoint.
        checkpoint: String,
    },
    /// A tensor has the wrong shape.
    #[error("{checkpoint}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// HF tensor name.
        name: String,
        /// The checkpoint.
        checkpoint: String,
        /// Shape the config implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// Architecture, quantisation type or template feature not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Tokenizer or chat-template failure.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Misuse of the model API (positions beyond the context, empty input, ...).
    #[error("{0}")]
    Usage(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for arpo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io { path, source } => arpo_core::Error::Io { path, source },
            Error::Parse { location, message } => arpo_core::Error::Parse { location, message },
            Error::Tokenizer(m) => arpo_core::Error::Tokenizer(m),
            Error::Unsupported(m) => arpo_core::Error::Unsupported(m),
            other => arpo_core::Error::Model(other.to_string()),
        }
    }
}
