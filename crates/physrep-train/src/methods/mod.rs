//! The registry of pretraining methods: names and typed configs (rebuilding a run's encoder is `crate::encoders`).
//!
//! Adding a method: one [`MethodKind`] variant (+ its name in `NAMES`), one [`MethodConfig`]
//! variant, and one match arm in each of `MethodConfig::{preset, validate, token_dim}`, `crate::pretrain`'s
//! dispatch and `crate::encoders::build_encoder`. The loop itself is shared ([`crate::train`]).
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
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, Preset};
use crate::error::TrainError;

pub use disco::{DiscoMethod, DiscoPretrainConfig};
pub use jepa::{JepaConfig, JepaLoss, JepaMethod, JepaTarget};
pub use mpp::{MppMethod, MppPretrainConfig};
pub use supervised::{SupervisedConfig, SupervisedMethod, SupervisedModel};
pub use videomae::{VideoMaeMethod, VideoMaeMethodConfig, VideoMaeProbeConfig};

/// Every pretraining method physrep knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use std::path::Path;

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
            [(Preset::Tiny, 32, 32, 128), (Preset::Small, 64, 192, 128), (Preset::Medium, 64, 384, 128), (Preset::Paper, 224, 384, 1568)];
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
