//! Rebuilding a run's encoder for probes: the one place that knows, for every method, which model a
//! run directory's config describes and which weights file to load into it — the trained weights
//! (`RUN/model.mpk`, checked against the exported `encoder.safetensors`), the run's own initial weights
//! (`RUN/init.mpk`), a kept checkpoint, or a fresh random draw of the same architecture. Everything
//! runs on the CPU and returns a [`ClipEncoder`]: clips `(B, C, T, H, W)` → tokens `(B, N, D)`.
//!
//! It sits above both `methods` (what each method's model is) and `pretrain` (the run directory), so
//! neither of those needs the other's internals.

use std::path::Path;

use burn::module::Module;
use physrep_nn::avit::{Avit, AvitConfig};
use physrep_nn::conv_jepa::ConvJepa;
use physrep_nn::videomae::{VideoMae, VideoMaeEncoder};
use physrep_nn::{ClipEncoder, Cpu};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_module, parameter_bits, Checkpoint};
use crate::error::TrainError;
use crate::methods::{MethodConfig, MethodKind};
use crate::pretrain::{RunDir, RunManifest};

/// What a probe needs to know about a trained encoder, besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderInfo {
    pub method: MethodKind,
    /// Token width D of `encode_tokens`' output `(B, N, D)`.
    pub token_dim: usize,
    /// Input channels C of a clip `(B, C, T, H, W)`.
    pub channels: usize,
    /// Frames T per clip (the context length).
    pub frames: usize,
    /// H = W of a clip.
    pub resolution: usize,
    /// Dataset the encoder was trained on and its flattened channel names.
    pub dataset: String,
    pub channel_names: Vec<String>,
}

/// The encoder geometry of a finished run (`RUN/run.json`).
pub fn encoder_info(run_dir: &Path) -> Result<EncoderInfo, TrainError> {
    let run = RunDir::new(run_dir);
    let m: RunManifest = run.manifest()?;
    Ok(EncoderInfo {
        method: m.method,
        token_dim: m.token_dim,
        channels: m.channel_names.len(),
        frames: m.context_frames,
        resolution: m.resolution,
        dataset: m.dataset,
        channel_names: m.channel_names,
    })
}

/// The trained encoder of a finished run, on the CPU, for any method: clips `(B, C, T, H, W)`
/// with the geometry of [`encoder_info`] → tokens `(B, N, D)`.
pub fn load_encoder(run_dir: &Path) -> Result<Box<dyn ClipEncoder<Cpu>>, TrainError> {
    let run = RunDir::new(run_dir);
    run.require_done()?;
    build_encoder(&run, Weights::Trained)
}

/// The run's own initial encoder (`RUN/init.mpk`: exactly the weights its training started from),
/// on the CPU, for any method: the paired control of [`load_encoder`] — same architecture, same seed,
/// no update. Needs no `DONE` (the file is written before the first update).
pub fn load_init_encoder(run_dir: &Path) -> Result<Box<dyn ClipEncoder<Cpu>>, TrainError> {
    let run = RunDir::new(run_dir);
    if !run.init_model_path().exists() {
        let method = run.config().map(|c| c.method.kind().to_string()).unwrap_or_else(|_| "METHOD".into());
        return Err(TrainError::RunDir {
            path: run.dir.clone(),
            message: format!(
                "has no init.mpk (a run made before the initial weights were saved): \
                 `physrep pretrain --resume --method {method} --data DATA --out {}` writes it",
                run.dir.display()
            ),
        });
    }
    build_encoder(&run, Weights::OwnInit)
}

/// The updates after which the run in `run_dir` has a checkpoint, oldest first. A run keeps its newest
/// `train.keep_checkpoints` checkpoints (0 = every one, e.g. for a learning curve), written every
/// `train.checkpoint_every` updates and at the end.
pub fn checkpoint_updates(run_dir: &Path) -> Result<Vec<u64>, TrainError> {
    Ok(kept_checkpoints(&RunDir::new(run_dir))?.into_iter().map(|(u, _)| u).collect())
}

/// The run's complete checkpoints with the update each was taken after, oldest first.
fn kept_checkpoints(run: &RunDir) -> Result<Vec<(u64, Checkpoint)>, TrainError> {
    Checkpoint::list(&run.checkpoints())?.into_iter().map(|c| Ok((c.state()?.update, c))).collect()
}

/// The model file of the run's checkpoint after `update` optimiser updates
/// (`RUN/checkpoints/update-…/model.mpk`); an error lists the kept checkpoints when there is none.
pub fn checkpoint_model(run_dir: &Path, update: u64) -> Result<std::path::PathBuf, TrainError> {
    let run = RunDir::new(run_dir);
    let found = kept_checkpoints(&run)?;
    match found.iter().find(|(u, _)| *u == update) {
        Some((_, ckpt)) => Ok(ckpt.model_path()),
        None => {
            let kept: Vec<u64> = found.iter().map(|(u, _)| *u).collect();
            Err(TrainError::RunDir {
                path: run.dir.clone(),
                message: format!("has no checkpoint after {update} updates (kept: {kept:?}; `train.keep_checkpoints=0` keeps every one)"),
            })
        }
    }
}

/// The run's encoder with the weights of one of its checkpoints (`model`, from [`checkpoint_model`]: the
/// whole model after that many updates), on the CPU, for any method: with [`load_init_encoder`]
/// (update 0) the points of a learning curve.
pub fn load_checkpoint_encoder(run_dir: &Path, model: &Path) -> Result<Box<dyn ClipEncoder<Cpu>>, TrainError> {
    build_encoder(&RunDir::new(run_dir), Weights::Checkpoint(model.to_path_buf()))
}

/// A freshly initialised encoder of the same architecture as the run in `run_dir`, with burn's
/// initialisers seeded by `seed`: the honest control for probing (no pretraining at all).
pub fn random_encoder(run_dir: &Path, seed: u64) -> Result<Box<dyn ClipEncoder<Cpu>>, TrainError> {
    let run = RunDir::new(run_dir);
    let device = Default::default();
    <Cpu as burn::prelude::Backend>::seed(&device, seed);
    build_encoder(&run, Weights::Random)
}

/// The whole trained AViT of a finished MPP run (trunk and next-frame decoder) and its config, on any
/// backend — the autodiff one for end-to-end fine-tuning. A run of another method is a
/// [`TrainError::RunDir`] naming it.
pub fn load_mpp_model<B: burn::prelude::Backend>(run_dir: &Path, device: &B::Device) -> Result<(Avit<B>, AvitConfig), TrainError> {
    let run = RunDir::new(run_dir);
    let cfg = run.config()?;
    let MethodConfig::Mpp(c) = &cfg.method else {
        return Err(TrainError::RunDir { path: run.dir.clone(), message: format!("is a `{}` run, not an MPP run", cfg.method.kind()) });
    };
    run.require_done()?;
    // Every weight is replaced by the checkpoint's, so the initialisers' draw does not matter.
    let model = c.model.init::<B>(device).map_err(|e| TrainError::Model(format!("{}: {e}", run.config_path().display())))?;
    Ok((load_module(model, &run.model_path(), device)?, c.model.clone()))
}

/// Which weights [`build_encoder`] gives the model.
#[derive(Clone, PartialEq, Eq)]
enum Weights {
    /// The run's final weights (`RUN/model.mpk`; VideoMAE: `RUN/encoder.safetensors`).
    Trained,
    /// The run's initial weights (`RUN/init.mpk`, the whole model for every method).
    OwnInit,
    /// A checkpoint's whole model (`RUN/checkpoints/update-…/model.mpk`).
    Checkpoint(std::path::PathBuf),
    /// The initialisers' draw.
    Random,
}

/// `model` with the weights of the MessagePack file `path`, or as drawn when `path` is `None`.
fn with_weights<M: burn::module::Module<Cpu>>(model: M, path: Option<&Path>) -> Result<M, TrainError> {
    match path {
        Some(p) => load_module(model, p, &Default::default()),
        None => Ok(model),
    }
}

/// A finished run's exported `encoder.safetensors` (the file other tools load) must hold exactly the
/// encoder weights of `model.mpk` (the file probes load): a truncated, corrupt or stale export is an
/// error naming it. A run without the export (made before exports existed) passes.
fn check_export<M: Module<Cpu> + Clone>(encoder: &M, run: &RunDir) -> Result<(), TrainError> {
    let path = run.encoder_safetensors();
    if !path.exists() {
        return Ok(());
    }
    let bad = |message: String| TrainError::Format { path: path.clone(), message };
    let exported = physrep_nn::conv_jepa::load_safetensors(encoder.clone(), "encoder", &path)
        .map_err(|e| bad(format!("cannot be read back (truncated or corrupt?): {e}")))?;
    if parameter_bits(&exported) != parameter_bits(encoder) {
        return Err(bad(format!(
            "holds other weights than {}: the export is stale or was overwritten (delete it and run `physrep pretrain --resume` on the run to write it again)",
            run.model_path().display()
        )));
    }
    Ok(())
}

fn build_encoder(run: &RunDir, weights: Weights) -> Result<Box<dyn ClipEncoder<Cpu>>, TrainError> {
    let cfg = run.config()?;
    let device = Default::default();
    let model_err = |e: &dyn std::fmt::Display| TrainError::Model(format!("{}: {e}", run.config_path().display()));
    let mpk = match &weights {
        Weights::Trained => Some(run.model_path()),
        Weights::OwnInit => Some(run.init_model_path()),
        Weights::Checkpoint(path) => Some(path.clone()),
        Weights::Random => None,
    };
    let mpk = mpk.as_deref();
    match &cfg.method {
        MethodConfig::Jepa(c) => {
            let model = ConvJepa::<Cpu>::new(&c.encoder, &c.predictor, &device).map_err(|e| model_err(&e))?;
            let encoder = with_weights(model, mpk)?.encoder;
            if weights == Weights::Trained {
                check_export(&encoder, run)?;
            }
            Ok(Box::new(encoder))
        }
        MethodConfig::Supervised(c) => {
            let encoder = with_weights(c.init::<Cpu>(&device).map_err(|e| model_err(&e))?, mpk)?.encoder;
            if weights == Weights::Trained {
                check_export(&encoder, run)?;
            }
            Ok(Box::new(encoder))
        }
        MethodConfig::Mpp(c) => Ok(Box::new(with_weights(c.model.init::<Cpu>(&device).map_err(|e| model_err(&e))?, mpk)?)),
        MethodConfig::Disco(c) => Ok(Box::new(with_weights(c.model.init::<Cpu>(&device).map_err(|e| model_err(&e))?, mpk)?)),
        MethodConfig::VideoMae(c) => match weights {
            Weights::OwnInit | Weights::Checkpoint(_) => {
                let model: VideoMae<Cpu> = c.model.init(&device).map_err(|e| model_err(&e))?;
                Ok(Box::new(with_weights(model, mpk)?.encoder))
            }
            Weights::Trained | Weights::Random => {
                let mut encoder: VideoMaeEncoder<Cpu> = c.model.init_encoder(&device).map_err(|e| model_err(&e))?;
                if weights == Weights::Trained {
                    encoder.load_pytorch_safetensors(&run.encoder_safetensors()).map_err(|e| model_err(&e))?;
                }
                Ok(Box::new(encoder))
            }
        },
    }
}
