//! Typed errors of the evaluation crate.

use std::path::PathBuf;

/// Everything that can go wrong while extracting features, fitting probes or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A tensor or buffer had the wrong shape.
    #[error("{what}: expected shape {expected}, got {got}")]
    Shape { what: String, expected: String, got: String },
    /// Invalid options or hyperparameters.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Too little data for the requested operation.
    #[error("not enough data: {0}")]
    Data(String),
    /// A non-finite value where a finite one is required.
    #[error("non-finite value in {0}")]
    NonFinite(String),
    /// A cache file exists but does not match what was asked for.
    #[error("feature cache {path}: {reason}")]
    Cache { path: PathBuf, reason: String },
    /// A fine-tuning checkpoint that cannot be written or read back.
    #[error("fine-tuning checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// File-system error with the path involved.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Reading or writing JSON.
    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    /// safetensors (de)serialisation.
    #[error("{path}: safetensors: {reason}")]
    Safetensors { path: PathBuf, reason: String },
    /// Drawing a plot.
    #[error("plot {path}: {reason}")]
    Plot { path: PathBuf, reason: String },
    /// Reading the dataset.
    #[error(transparent)]
    Well(#[from] physrep_well::WellError),
    /// Writing a file atomically or locking an output directory failed.
    #[error(transparent)]
    Fs(#[from] physrep_core::FsError),
    /// End-to-end fine-tuning asked of a run whose encoder physrep does not fine-tune.
    #[error("{path}: cannot fine-tune a `{method}` run: end-to-end fine-tuning is the paper's protocol for MPP's AViT only (probe other encoders frozen with `physrep probe`)")]
    NotFinetunable { path: PathBuf, method: String },
    /// The optimisation engine (a non-finite loss or gradient, a checkpoint that cannot be read or written).
    #[error(transparent)]
    Train(Box<physrep_train::TrainError>),
    /// A model: an invalid probe architecture, a clip it cannot take, weights that do not fit.
    #[error(transparent)]
    Model(Box<physrep_nn::NnError>),
}

impl From<physrep_train::TrainError> for EvalError {
    fn from(e: physrep_train::TrainError) -> Self {
        EvalError::Train(Box::new(e))
    }
}

impl From<physrep_nn::NnError> for EvalError {
    fn from(e: physrep_nn::NnError) -> Self {
        EvalError::Model(Box::new(e))
    }
}

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EvalError {
        let path = path.into();
        move |source| EvalError::Io { path, source }
    }

    pub(crate) fn shape(what: impl Into<String>, expected: impl std::fmt::Debug, got: impl std::fmt::Debug) -> Self {
        EvalError::Shape { what: what.into(), expected: format!("{expected:?}"), got: format!("{got:?}") }
    }
}
