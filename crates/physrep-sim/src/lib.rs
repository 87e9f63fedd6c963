//! physrep-sim: validated pseudo-spectral simulators writing The Well's layout.
//!
//! * [`spectral`]: 2-D real FFTs (planned once, explicit 1/N), wavenumbers, dealiasing masks, Hou–Li filter.
//! * [`etdrk4`]: ETDRK4 with Kassam–Trefethen complex contour coefficients.
//! * [`system`]: the [`System`] trait every dataset implements, presets, parameter points, trajectories.
//! * [`checks`]: the physical check written into every generated file (bounds, divergence, Nusselt balance,
//!   spectral tail).
//! * [`generate`](mod@generate): parameter grid → Well files (splits, seeds, sharding, resumption, `stats.yaml`).
//! * [`design`]: continuous parameter designs (Latin hypercube in label space, split by parameter point).
//! * Systems: [`shear_flow`], [`rayleigh_benard`], [`gray_scott`], [`active_matter`], and the
//!   learnability control [`advection`].
//!
//! Specification: `docs/simulators.md`.

pub mod active_matter;
pub mod advection;
pub mod checks;
pub mod design;
pub mod etdrk4;
pub mod generate;
pub mod gray_scott;
pub mod rayleigh_benard;
pub mod shear_flow;
pub mod spectral;
pub mod system;

mod error;
mod flow;

pub use error::SimError;
pub use generate::{generate, GenerateOptions, ParamSelection};
pub use system::{Boundary, BoundaryKind, FieldSpec, Layout, ParamPoint, Preset, System, Trajectory};
