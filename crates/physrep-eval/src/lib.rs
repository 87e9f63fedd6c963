//! physrep-eval: frozen-encoder evaluation.
//!
//! Pipeline (`docs/paper-protocol.md` §10–13): extract tokens of every window through a
//! [`physrep_nn::ClipEncoder`] ([`extract`], cached on disk by [`features::FeatureCache`]), fit probes
//! on them ([`probes`]: the paper's attentive probe, V-JEPA 2's 4-block probe, ridge, kNN and the
//! predict-the-mean floor), sweep the attentive probes' lr × wd in parallel ([`sweep`]), repeat on
//! nested subsets of the training windows ([`subsets`], [`evaluate`](mod@evaluate)), and write `results.json`,
//! `results.md` ([`report`]) and plots ([`plots`]). MPP, which the paper fine-tunes end to end instead of
//! probing frozen, is fine-tuned by [`finetune`].
//!
//! Every probe run also saves its per-window predictions ([`predictions`]), from which [`compare`]
//! estimates the test-MSE ratio of two encoders with a paired bootstrap over seeds and parameter
//! points; [`baseline`] is the trivial-statistics encoder every learned one should beat.

pub mod baseline;
pub mod bootstrap;
pub mod compare;
pub mod error;
pub mod evaluate;
pub mod extract;
pub mod features;
pub mod finetune;
pub mod learning_curve;
pub mod metrics;
pub mod plots;
pub mod predictions;
pub mod probes;
pub mod report;
pub mod run;
pub mod subsets;
pub mod sweep;
pub mod well_source;

pub use error::EvalError;
pub use evaluate::{evaluate, EvalConfig, ProbeKind, SplitFeatures};
pub use features::{CacheKey, FeatureCache, Features};
pub use finetune::{finetune_run, FinetuneOptions};
pub use metrics::{mse, Scores};
pub use probes::{FitReport, Probe};
pub use report::{ProbeReport, ProbeResult};
pub use run::{probe_run, probe_run_with, EncoderHandle, ProbeOptions};
