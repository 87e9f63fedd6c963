//! # physrep-core: what every physrep crate shares
//!
//! The bottom of the workspace (no physrep dependency): writing files so that a file that exists is
//! complete ([`fs::write_atomic`], temporary names [`fs::temp_path`] and their cleanup after a kill
//! [`fs::remove_stale_temps`]), one writer per directory ([`lock::DirLock`]), and the SplitMix64 seed
//! mixing every seeded stream derives from ([`seed`]), progress that reads on a terminal and in a
//! log file ([`progress::Progress`]), and the `physrep` binary's global allocator, which recycles large
//! activation buffers ([`buffer_cache::BufferCache`]). Errors name the path ([`FsError`]).

pub mod buffer_cache;
pub mod fs;
pub mod lock;
pub mod progress;
pub mod seed;

pub use buffer_cache::BufferCache;
pub use fs::write_atomic;
pub use lock::DirLock;
pub use progress::Progress;

use std::path::PathBuf;

/// A file-system failure, naming the path it happened on.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An I/O call failed on `path`.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the directory's lock ([`DirLock`]).
    #[error("{dir} is locked by {holder}: wait for it to finish (or stop it) before writing there")]
    Locked { dir: PathBuf, holder: String },
}

impl FsError {
    /// The error of an I/O call on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
