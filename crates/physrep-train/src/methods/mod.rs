//! The registry of pretraining methods: names, typed configs, and loading a trained encoder.
//!
//! Adding a method: one [`MethodKind`] variant (+ its name in `NAMES`), one [`MethodConfig`]
//! variant, and one match arm in each of `MethodConfig::{preset, validate, token_dim}`, `crate::pretrain`'s
//! dispatch and [`load_encoder`]. The loop itself is shared ([`crate::train`]).
//!
//! Exported encoders (`RUN/encoder.safetensors`, PyTorch names): JEPA's conv encoder; VideoMAE's ViT
//! encoder (VideoMAE's encoder names, no `encoder.` prefix), whose frozen features are all `N` tokens
//! after the final LayerNorm, `(B, (T/tubelet)·(H/p)², D)`.

pub mod disco;
pub mod jepa;
pub mod mpp;
pub mod supervised;
pub mod videomae;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::Tensor;
use physrep_nn::avit::{Avit, AvitConfig};
use physrep_nn::conv_jepa::ConvJepa;
use physrep_nn::videomae::{VideoMae, VideoMaeEncoder};
use physrep_nn::{ClipEncoder, Cpu};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_module, Checkpoint};
use crate::config::{DataConfig, Preset};
use crate::error::TrainError;
use crate::pretrain::{RunDir, RunManifest};

pub use disco::{DiscoMethod, DiscoPretrainConfig};
pub use jepa::{JepaConfig, JepaLoss, JepaMethod};
pub use mpp::{MppMethod, MppPretrainConfig};
pub use supervised::{SupervisedConfig, SupervisedMethod, SupervisedModel};
pub use videomae::{VideoMaeMethod, VideoMaeMethodConfig, VideoMaeProbeConfig};

/// Every pretraining method physrep knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    /// The paper's conv JEPA (ConvNeXt-3D encoder + conv predictor, VICReg).
    Jepa,
    /// VideoMAE (ViT with tube masking, masked-patch reconstruction).
    #[serde(rename = "videomae")]
    VideoMae,
    /// Multiple Physics Pretraining (AViT, next-frame NRMSE).
    Mpp,
    /// DISCO (operator-network hypernetwork).
    Disco,
    /// The supervised ceiling: JEPA's conv encoder trained to regress the labels (not in the paper).
    Supervised,
}

const NAMES: [(MethodKind, &str); 5] = [
    (MethodKind::Jepa, "jepa"),
    (MethodKind::VideoMae, "videomae"),
    (MethodKind::Mpp, "mpp"),
    (MethodKind::Disco, "disco"),
    (MethodKind::Supervised, "supervised"),
];

impl MethodKind {
    /// Every method: the paper's four in its table order, then the supervised ceiling.
    pub const ALL: [MethodKind; 5] = [MethodKind::Jepa, MethodKind::VideoMae, MethodKind::Mpp, MethodKind::Disco, MethodKind::Supervised];

    /// The name used on the command line, in run directories and reports.
    pub fn as_str(self) -> &'static str {
        NAMES.iter().find(|(k, _)| *k == self).map(|(_, n)| *n).expect("every kind is named")
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MethodKind {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(_, n)| *n == lower || (lower == "video-mae" && *n == "videomae"))
            .map(|(k, _)| *k)
            .ok_or_else(|| TrainError::UnknownMethod(s.to_string()))
    }
}

/// A method's typed configuration, tagged by `kind` in the serde form (`[method] kind = "jepa"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MethodConfig {
    Jepa(JepaConfig),
    Mpp(MppPretrainConfig),
    Disco(DiscoPretrainConfig),
    #[serde(rename = "videomae")]
    VideoMae(VideoMaeMethodConfig),
    Supervised(SupervisedConfig),
}

impl MethodConfig {
    /// Which method this configures.
    pub fn kind(&self) -> MethodKind {
        match self {
            MethodConfig::Jepa(_) => MethodKind::Jepa,
            MethodConfig::Mpp(_) => MethodKind::Mpp,
            MethodConfig::Disco(_) => MethodKind::Disco,
            MethodConfig::VideoMae(_) => MethodKind::VideoMae,
            MethodConfig::Supervised(_) => MethodKind::Supervised,
        }
    }

    /// The preset configuration of `kind` for data with `channels` input channels.
    pub fn preset(kind: MethodKind, preset: Preset, channels: usize) -> Result<Self, TrainError> {
        match kind {
            MethodKind::Jepa => Ok(MethodConfig::Jepa(JepaConfig::preset(preset, channels))),
            MethodKind::Mpp => Ok(MethodConfig::Mpp(MppPretrainConfig::preset(preset))),
            MethodKind::Disco => Ok(MethodConfig::Disco(DiscoPretrainConfig::preset(preset, channels))),
            MethodKind::VideoMae => Ok(MethodConfig::VideoMae(VideoMaeMethodConfig::preset(preset, channels))),
            MethodKind::Supervised => Ok(MethodConfig::Supervised(SupervisedConfig::preset(preset, channels))),
        }
    }

    /// Check the config and its fit with the data settings, the micro-batch and `channels` input channels.
    pub fn validate(&self, data: &DataConfig, micro_batch: usize, channels: usize) -> Result<(), TrainError> {
        match self {
            MethodConfig::Jepa(c) => c.validate(data, channels, micro_batch),
            MethodConfig::Supervised(c) => c.validate(data, channels),
            MethodConfig::Mpp(c) => {
                c.validate(channels, data.context_frames, data.resolution).map_err(|e| TrainError::config("method.model", e.to_string()))
            }
            MethodConfig::Disco(c) => {
                c.validate(channels, data.context_frames, data.resolution).map_err(|e| TrainError::config("method.model", e.to_string()))
            }
            MethodConfig::VideoMae(c) => c.validate(data, channels),
        }
    }

    /// Width of the encoder's output tokens.
    pub fn token_dim(&self) -> usize {
        match self {
            MethodConfig::Jepa(c) => c.encoder.out_dim(),
            MethodConfig::Mpp(c) => c.model.embed_dim,
            MethodConfig::Disco(c) => c.model.embed_dim,
            MethodConfig::VideoMae(c) => c.model.embed_dim,
            MethodConfig::Supervised(c) => c.encoder.out_dim(),
        }
    }
}

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

/// Bit patterns of every float parameter of `module`, in visiting order.
fn parameter_bits<M: Module<Cpu>>(module: &M) -> Vec<u32> {
    struct Collect(Vec<u32>);
    impl ModuleVisitor<Cpu> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Cpu, D>>) {
            let values = param.val().into_data().convert::<f32>().to_vec::<f32>().unwrap_or_default();
            self.0.extend(values.iter().map(|x| x.to_bits()));
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for k in MethodKind::ALL {
            assert_eq!(k.to_string().parse::<MethodKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::String(k.to_string()));
        }
        assert_eq!("JEPA".parse::<MethodKind>().unwrap(), MethodKind::Jepa);
        let e = "byol".parse::<MethodKind>().unwrap_err().to_string();
        assert!(e.contains("byol") && e.contains("videomae"), "{e}");
        assert_eq!("supervised".parse::<MethodKind>().unwrap(), MethodKind::Supervised);
    }

    /// Every VideoMAE preset fits its preset's data (resolution, 16 frames, channels), round-trips through
    /// TOML, and carries VideoMAE's lr recipe for the preset's global batch.
    #[test]
    fn videomae_presets_are_valid_and_use_the_lr_recipe() {
        use crate::pretrain::PretrainConfig;
        let dims =
            [(Preset::Tiny, 32, 32, 128), (Preset::Small, 64, 192, 128), (Preset::Default, 64, 384, 128), (Preset::Paper, 224, 384, 1568)];
        for (preset, resolution, width, tokens) in dims {
            let cfg = PretrainConfig::preset(preset, MethodKind::VideoMae, "active_matter", 11, Path::new("/data")).unwrap();
            cfg.validate(11).unwrap();
            assert!(cfg.validate(4).is_err(), "{preset:?}: 4 channels must be refused");
            let MethodConfig::VideoMae(c) = &cfg.method else { panic!("{:?}", cfg.method) };
            assert_eq!((cfg.data.resolution, cfg.method.token_dim(), c.model.num_tokens()), (resolution, width, tokens), "{preset:?}");
            let scale = cfg.train.global_batch as f64 / 256.0;
            assert!((cfg.train.lr - 1.5e-4 * scale).abs() < 1e-15 && (cfg.train.min_lr - 1e-5 * scale).abs() < 1e-15, "{preset:?}");
            let back: PretrainConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
            assert_eq!(back, cfg);
        }
    }
}
