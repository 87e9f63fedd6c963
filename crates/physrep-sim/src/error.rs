//! Typed errors of the simulators and the generator.

/// Everything that can go wrong while simulating or generating a dataset.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A grid or domain that the spectral machinery cannot represent.
    #[error("invalid grid: {0}")]
    Grid(String),
    /// Bad options (preset, shard, parameter list, system name …).
    #[error("invalid option: {0}")]
    Options(String),
    /// The solution became non-finite or violated the CFL bound; the trajectory is discarded.
    #[error("{system}: trajectory blew up at t = {time:.4} ({params}, ic {ic}): {reason}")]
    BlowUp { system: String, params: String, ic: usize, time: f64, reason: String },
    /// A generated file failed its physical check (`crate::checks`) and `allow_unresolved` was off.
    #[error("{file} ({params}): physical check failed: {failures}; the file was not written (narrow the parameters, refine the preset or pass --allow-unresolved to keep it, recorded in the file)")]
    Unresolved { file: String, params: String, failures: String },
    /// Reading or writing Well files failed.
    #[error(transparent)]
    Well(Box<physrep_well::WellError>),
    /// Writing a file atomically or locking the dataset directory failed.
    #[error(transparent)]
    Fs(#[from] physrep_core::FsError),
}
