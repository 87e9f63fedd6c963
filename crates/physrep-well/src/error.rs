//! The one error type of `physrep-well`: every variant names the file (or directory) and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong reading, writing or indexing Well-layout data.
#[derive(Debug, thiserror::Error)]
pub enum WellError {
    /// An I/O failure outside HDF5 (listing a directory, reading `stats.yaml`, renaming a file).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file could not be opened as HDF5 at all.
    #[error("{path}: cannot open as an HDF5 file (not HDF5, truncated or corrupt): {detail}")]
    NotHdf5 { path: PathBuf, detail: String },
    /// An HDF5 call failed on an object that exists (e.g. a read past the end of a truncated file).
    #[error("{path}: HDF5 error at `{item}`: {detail}")]
    Hdf5 { path: PathBuf, item: String, detail: String },
    /// A required group, dataset or attribute is absent.
    #[error("{path}: missing {what}")]
    Missing { path: PathBuf, what: String },
    /// An object has the wrong shape or rank.
    #[error("{path}: `{item}` has shape {found:?}, expected {expected}")]
    Shape { path: PathBuf, item: String, found: Vec<usize>, expected: String },
    /// An object has the wrong type or an invalid value.
    #[error("{path}: `{item}`: {msg}")]
    Format { path: PathBuf, item: String, msg: String },
    /// A dataset directory lacks a split folder that was asked for.
    #[error("{dir}: missing split folder `data/{split}`")]
    MissingSplit { dir: PathBuf, split: String },
    /// A dataset directory holds no Well files at all.
    #[error("{dir}: no *.h5 / *.hdf5 files under data/{{train,valid,test}}")]
    Empty { dir: PathBuf },
    /// Two files of one dataset disagree on something that must be shared.
    #[error("{path}: {what} is {found}, but {first} has {expected}")]
    Mismatch { path: PathBuf, what: String, found: String, first: PathBuf, expected: String },
    /// A window contains NaN or ±Inf.
    #[error("{path}: non-finite value (NaN/Inf) in field `{field}`, trajectory {trajectory}, frames {t0}..{t1}")]
    NonFinite { path: PathBuf, field: String, trajectory: usize, t0: usize, t1: usize },
    /// A dataset-specific setting was requested for a dataset physrep does not know.
    #[error("unknown dataset `{name}`: no {what} defined (known: active_matter, shear_flow, rayleigh_benard)")]
    UnknownDataset { name: String, what: String },
    /// A window needs more frames than a trajectory has.
    #[error("{path}: window of {need} frames (context + target) is longer than the trajectory ({frames} frames)")]
    WindowTooLong { path: PathBuf, need: usize, frames: usize },
    /// A window reference or argument is out of range or inconsistent.
    #[error("{what}")]
    Invalid { what: String },
    /// Writing a file atomically or locking a directory failed (`physrep_core`).
    #[error(transparent)]
    Fs(#[from] physrep_core::FsError),
    /// `stats.yaml` is malformed or lacks a field.
    #[error("{path}: bad stats.yaml: {msg}")]
    Stats { path: PathBuf, msg: String },
}

impl WellError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
    pub(crate) fn hdf5(path: impl Into<PathBuf>, item: impl Into<String>, e: hdf5::Error) -> Self {
        Self::Hdf5 { path: path.into(), item: item.into(), detail: e.to_string() }
    }
    pub(crate) fn format(path: impl Into<PathBuf>, item: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::Format { path: path.into(), item: item.into(), msg: msg.into() }
    }
    pub(crate) fn missing(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Self::Missing { path: path.into(), what: what.into() }
    }
}
