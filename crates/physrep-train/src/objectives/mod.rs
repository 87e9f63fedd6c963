//! Self-supervised objectives on embedding maps: VICReg (the paper's) and BCS / Gaussian matching.

pub mod bcs;
pub mod vicreg;

pub use bcs::{bcs, BcsConfig, BcsTerms};
pub use vicreg::{vicreg, vicreg_with_permutation, VicregConfig, VicregTerms};
