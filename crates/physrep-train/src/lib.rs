//! physrep-train: self-supervised objectives and the one optimisation engine every training runs on.
//!
//! A method (JEPA, VideoMAE, MPP, DISCO) implements [`Method`]: how to build its model from its
//! typed config and what the loss of one micro-batch is. Everything else — optimiser, lr policy
//! (warm-up + cosine or reduce-on-plateau), exact gradient accumulation, seeded epoch order, atomic
//! checkpoints, `--resume`, best-epoch selection, metrics JSONL — is the [`engine`]'s, written once and
//! driven by pretraining ([`train`]) and by `physrep-eval`'s attentive probe and fine-tuning.

pub mod augment;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod encoders;
pub mod engine;
pub mod error;
pub mod method;
pub mod methods;
pub mod monitor;
pub mod objectives;
pub mod pretrain;
pub mod trainer;
pub mod well_source;

pub use checkpoint::{Checkpoint, LoopState};
pub use config::{DataConfig, Preset, TrainConfig, Views};
pub use data::{DataSource, HostBatch, Phase};
pub use encoders::{
    checkpoint_model, checkpoint_updates, encoder_info, load_checkpoint_encoder, load_encoder, load_init_encoder, load_mpp_model,
    random_encoder, EncoderInfo,
};
pub use engine::{BestEpoch, Engine, Flow, Grouping, LrPolicy, LrSchedule, Micro, Plateau, PlateauConfig, Step};
pub use error::TrainError;
pub use method::{Method, StepContext, StepOutput, TensorBatch};
pub use methods::{MethodConfig, MethodKind};
pub use monitor::{collapse_stats, CollapseStats};
pub use pretrain::{pretrain, Device, PretrainConfig, PretrainOptions, RunDir, RunManifest, RunSummary};
pub use trainer::{init_model, save_weights, train, RunControl, TrainOutcome, INIT_WEIGHTS};
pub use well_source::WellSource;
