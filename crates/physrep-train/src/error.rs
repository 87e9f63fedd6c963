//! The crate's typed error.

use std::path::PathBuf;

/// Everything that can go wrong while configuring, training, checkpointing or loading a run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is invalid (after presets and overrides are applied).
    #[error("invalid config: `{field}` {message}")]
    Config { field: String, message: String },

    /// A `key=value` override could not be applied.
    #[error("invalid override `{spec}`: {message}")]
    Override { spec: String, message: String },

    /// The loss (or one of its terms) became NaN or infinite.
    #[error("non-finite {term} = {value} at epoch {epoch}, update {update}, micro-batch {micro}")]
    NonFinite { term: String, value: f64, epoch: u64, update: u64, micro: u64 },

    /// A batch had an unexpected shape.
    #[error("batch shape mismatch: {what} is {got:?}, expected {expected}")]
    Shape { what: String, got: Vec<usize>, expected: String },

    /// The data source produced too few batches for even one update.
    #[error("no training data: {0}")]
    NoData(String),

    /// A file in a run directory could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// A file in a run directory has unexpected contents.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },

    /// burn's recorder failed to (de)serialise a model or optimiser state.
    #[error("{path}: record error: {message}")]
    Record { path: PathBuf, message: String },

    /// A run directory cannot be resumed or reused as asked.
    #[error("run directory {path}: {message}")]
    RunDir { path: PathBuf, message: String },

    /// An unknown method name.
    #[error("unknown method `{0}` (expected one of: jepa, videomae, mpp, disco)")]
    UnknownMethod(String),

    /// An error from a data source.
    #[error("data: {0}")]
    Data(String),

    /// An error from the Well data layer (names the file and what was expected).
    #[error(transparent)]
    Well(#[from] physrep_well::WellError),

    /// Writing a file atomically or locking the run directory failed.
    #[error(transparent)]
    Fs(#[from] physrep_core::FsError),

    /// An error from a model (invalid model config, bad checkpoint tensors).
    #[error("model: {0}")]
    Model(String),
}

impl TrainError {
    /// Shorthand for a [`TrainError::Config`].
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        TrainError::Config { field: field.into(), message: message.into() }
    }

    /// Shorthand for a [`TrainError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
}
