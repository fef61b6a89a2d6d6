//! The one error type of arpo-eval: every variant names the file, line, row or field at fault.

use std::path::PathBuf;

/// Errors of data loading, scoring and judging.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// One line of a JSON-lines file is malformed.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the field when one is at fault.
        message: String,
    },
    /// One row of a parquet file is malformed.
    #[error("{path}: row {row}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 0-based row index.
        row: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The parquet reader failed (corrupt file, unsupported encoding).
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The reader's error.
        source: parquet::errors::ParquetError,
    },
    /// A benchmark name that the registry does not know.
    #[error("unknown benchmark `{name}` (known: {known})")]
    UnknownBenchmark {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The LLM judge failed after its retries, or answered something else than Correct/Incorrect.
    #[error("judge: {0}")]
    Judge(String),
    /// A configuration value is missing or out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An agent could not answer (a completions server that keeps failing, a bad reply).
    #[error("agent: {0}")]
    Agent(String),
    /// An error of the model, tokenizer or rollout behind an agent.
    #[error(transparent)]
    Core(#[from] arpo_core::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] naming the path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<Error> for arpo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io { path, source } => arpo_core::Error::Io { path, source },
            Error::Config(m) => arpo_core::Error::Config(m),
            Error::Line {
                path,
                line,
                message,
            } => arpo_core::Error::parse(format!("{}:{line}", path.display()), message),
            Error::Row { path, row, message } => {
                arpo_core::Error::parse(format!("{}: row {row}", path.display()), message)
            }
            Error::Core(e) => e,
            other => arpo_core::Error::parse("arpo-eval", other.to_string()),
        }
    }
}
