//! physrep-train: self-supervised objectives and the one training loop shared by every method.
//!
//! A method (JEPA, VideoMAE, MPP, DISCO) implements [`Method`]: how to build its model from its
//! typed config and what the loss of one micro-batch is. Everything else — optimiser, warm-up +
//! cosine schedule, gradient accumulation, seeded epoch order, atomic checkpoints, `--resume`,
//! metrics JSONL and progress — is the loop's, written once.

pub mod method;
pub mod methods;
pub mod objectives;

pub use method::{Method, StepContext, StepOutput, TensorBatch};
