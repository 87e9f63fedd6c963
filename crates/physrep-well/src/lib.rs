//! # physrep-well: The Well's HDF5 layout
//!
//! Reading and writing Well-layout files (PolymathicAI's *The Well*, `docs/well-format.md`), the dataset
//! index over `<dir>/data/{train,valid,test}`, the paper's windows, crops, resize, noise and label
//! transforms (Qu et al., arXiv 2603.13227, `docs/paper-protocol.md` §2–3), The Well's `stats.yaml`, and a
//! seeded, prefetching batch loader.
//!
//! ```no_run
//! use physrep_well::{Loader, LoaderConfig, Preprocess, Split, WellDataset, WindowSpec};
//! use std::sync::Arc;
//! let ds = Arc::new(WellDataset::open("data/shear_flow")?);
//! let windows = ds.windows(Split::Train, &WindowSpec::paper(ds.name()))?;
//! let pre = Preprocess::paper(ds.name(), Some([224, 224]), 1.0);
//! for batch in Loader::new(ds.clone(), windows, pre, LoaderConfig::default()) {
//!     let batch = batch?; // context (B, C, 16, 224, 224), labels (B, 2)
//! }
//! # Ok::<(), physrep_well::WellError>(())
//! ```

mod dataset;
mod direct;
mod error;
mod file;
mod h5util;
mod labels;
mod loader;
pub mod moments;
mod preprocess;
pub mod protocol;
pub mod stats;
pub mod synthetic;
pub mod write;

pub use dataset::{list_h5, ChannelOrder, Sample, Split, WellDataset, WindowRef, WindowSpec};
pub use error::WellError;
pub use file::{BoundaryCondition, FieldInfo, ScalarInfo, WellFileInfo, FIELD_GROUPS};
pub use labels::{LabelColumn, LabelScaling, LabelTransform, LABEL_SCALING_ATTR};
pub use loader::{noise_seed, Batch, Loader, LoaderConfig};
pub use preprocess::{add_noise, resize_bilinear, Crop, Normalization, Preprocess};
pub use protocol::{Protocol, SystemId};
pub use stats::WellStats;
