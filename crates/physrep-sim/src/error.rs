//! Typed errors of the simulators and the generator.

use std::path::PathBuf;

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
    BlowUp {
        system: String,
        params: String,
        ic: usize,
        time: f64,
        reason: String,
    },
    /// File-system error with the path involved.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
