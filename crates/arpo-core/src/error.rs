//! The one error type shared by the traits of this crate.

use std::path::PathBuf;

/// Errors raised through the shared traits. Library crates wrap this in their own error types.
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
    /// Input data is malformed; `location` names the file, line or field.
    #[error("{location}: {message}")]
    Parse {
        /// Where the problem is, e.g. `data/gsm8k.jsonl:17` or `config.json: rope_theta`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Tokenizer or chat-template failure.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A model-side failure (shape mismatch, cache misuse, unsupported architecture).
    #[error("model: {0}")]
    Model(String),
    /// Something the caller asked for is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// `Result` with the shared [`Error`].
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
}
