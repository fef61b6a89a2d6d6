//! The one error type of arpo-train: every variant names the file, line, field or tensor at fault.

use std::path::PathBuf;

/// Errors of training: bad inputs to the maths, model failures, files and configs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Inputs that do not fit together (shapes, lengths, missing rewards).
    #[error("{0}")]
    Usage(String),
    /// The model failed (positions past the context, bad batch).
    #[error("model: {0}")]
    Model(#[from] arpo_model::Error),
    /// The tokenizer or chat template failed.
    #[error("tokenizer: {0}")]
    Core(#[from] arpo_core::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is malformed: a config field, a JSON line, a checkpoint section.
    #[error("{location}: {message}")]
    Parse {
        /// File and line or field at fault.
        location: String,
        /// What is wrong.
        message: String,
    },
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A parse error at `location`.
    pub fn parse(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Parse {
            location: location.into(),
            message: message.into(),
        }
    }
}
