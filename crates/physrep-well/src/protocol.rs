//! The paper's per-system protocol in one record: which systems there are ([`SystemId`]) and, for each,
//! the window stride, crop, input noise, probe caps and pretraining recipe ([`Protocol`]).
//!
//! Every crate that needs a per-system constant reads it here, so a system's protocol is one `match`
//! arm and not string comparisons spread over the pipeline. Sources (`docs/paper-protocol.md`): window
//! stride and crop §2.1–2.4, probe input noise §2.6, pretraining optimisation §9 (with physrep's 20 %
//! warm-up cap, §13), probe batch and training-set caps §10.1; the paper's results (Qu et al., arXiv
//! 2603.13227, Tables 1 and 2). Label transforms stay with the labels ([`crate::LabelTransform::paper`]),
//! keyed by the same names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::preprocess::Crop;

/// The systems physrep knows by name (the Well's `dataset_name`, or a simulator's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemId {
    /// Active nematic matter (the Well's `active_matter`): labels α, ζ.
    ActiveMatter,
    /// Shear flow: labels Reynolds, Schmidt.
    ShearFlow,
    /// Rayleigh–Bénard convection: labels Rayleigh, Prandtl.
    RayleighBenard,
    /// The Well's uniform-initial-condition Rayleigh–Bénard variant: RB's protocol.
    RayleighBenardUniform,
    /// Gray–Scott reaction–diffusion (`gray_scott_reaction_diffusion`; no paper protocol).
    GrayScott,
    /// physrep's stationary control: a random field advected at speed v (label `speed`).
    Advection,
}

impl SystemId {
    /// The three systems of the paper's Table 1, in its order.
    pub const PAPER: [SystemId; 3] = [SystemId::ActiveMatter, SystemId::ShearFlow, SystemId::RayleighBenard];

    /// Every known system.
    pub const ALL: [SystemId; 6] = [
        SystemId::ActiveMatter,
        SystemId::ShearFlow,
        SystemId::RayleighBenard,
        SystemId::RayleighBenardUniform,
        SystemId::GrayScott,
        SystemId::Advection,
    ];

    /// The dataset name (`active_matter`, …).
    pub const fn name(self) -> &'static str {
        match self {
            SystemId::ActiveMatter => "active_matter",
            SystemId::ShearFlow => "shear_flow",
            SystemId::RayleighBenard => "rayleigh_benard",
            SystemId::RayleighBenardUniform => "rayleigh_benard_uniform",
            SystemId::GrayScott => "gray_scott_reaction_diffusion",
            SystemId::Advection => "advection",
        }
    }

    /// The system of a dataset name, if physrep knows it.
    pub fn from_name(name: &str) -> Option<SystemId> {
        SystemId::ALL.into_iter().find(|s| s.name() == name)
    }

    /// This system's protocol.
    pub fn protocol(self) -> Protocol {
        Protocol::of(Some(self))
    }
}

impl fmt::Display for SystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a known system.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown system `{0}` (expected one of: active_matter, shear_flow, rayleigh_benard, rayleigh_benard_uniform, gray_scott_reaction_diffusion, advection)")]
pub struct UnknownSystem(pub String);

impl FromStr for SystemId {
    type Err = UnknownSystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SystemId::from_name(s).ok_or_else(|| UnknownSystem(s.to_string()))
    }
}

/// The paper's pretraining optimisation values of a system (§9); the rest of the recipe is shared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PretrainRecipe {
    pub lr: f64,
    pub epochs: u64,
    /// Warm-up in epochs, after physrep's cap at 20 % of all updates (§13: SF's configured 6 of 6 → 1.2).
    pub warmup_epochs: f64,
    /// Input noise σ during pretraining.
    pub noise_std: f32,
}

/// The paper's MSE (z-scored labels) of each method on one system: Table 1 (Well `valid`, frozen
/// attentive probe; MPP fine-tuned end to end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperMse {
    pub jepa: f64,
    pub videomae: f64,
    pub disco: f64,
    pub mpp: f64,
}

impl PaperMse {
    /// The value of a method by name (`jepa`, `videomae`, `disco`, `mpp`).
    pub fn of(&self, method: &str) -> Option<f64> {
        match method {
            "jepa" => Some(self.jepa),
            "videomae" => Some(self.videomae),
            "disco" => Some(self.disco),
            "mpp" => Some(self.mpp),
            _ => None,
        }
    }
}

/// The paper's data-efficiency results (Table 2, shear_flow only): MSE of the probe trained on
/// [`PaperDataEfficiency::FRACTIONS`] of its training set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperDataEfficiency {
    pub jepa: [f64; 3],
    pub videomae: [f64; 3],
}

impl PaperDataEfficiency {
    /// The probe-data fractions of Table 2.
    pub const FRACTIONS: [f64; 3] = [0.1, 0.5, 1.0];

    /// The value of a method by name at a fraction of Table 2.
    pub fn of(&self, method: &str, fraction: f64) -> Option<f64> {
        let i = Self::FRACTIONS.iter().position(|f| (f - fraction).abs() < 1e-9)?;
        match method {
            "jepa" => Some(self.jepa[i]),
            "videomae" => Some(self.videomae[i]),
            _ => None,
        }
    }
}

/// What the paper's protocol fixes per system.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Protocol {
    /// Frames between the starts of consecutive windows (16 + 16 frames each).
    pub stride: usize,
    /// Spatial crop, as fractions of the domain.
    pub crop: Crop,
    /// Input noise σ of the probe's features.
    pub probe_noise_std: f32,
    /// The probe's training-set size (a seeded subset of windows); `None` = every window.
    pub probe_max_train_windows: Option<usize>,
    /// Rows per probe micro-batch.
    pub probe_batch: usize,
    /// Pretraining optimisation.
    pub pretrain: PretrainRecipe,
    /// The paper's Table 1 row (`None`: not a system of the paper).
    pub paper_mse: Option<PaperMse>,
    /// The paper's Table 2 (shear_flow only).
    pub paper_data_efficiency: Option<PaperDataEfficiency>,
}

impl Protocol {
    /// The protocol of `system`; an unknown system (`None`) or one the paper does not study gets the
    /// generic values: stride 16, the full domain, no probe noise, every window, batch 32, AM's pretraining.
    pub fn of(system: Option<SystemId>) -> Protocol {
        let am = PretrainRecipe { lr: 1e-3, epochs: 30, warmup_epochs: 2.0, noise_std: 1.0 };
        let generic = Protocol {
            stride: 16,
            crop: Crop::FULL,
            probe_noise_std: 0.0,
            probe_max_train_windows: None,
            probe_batch: 32,
            pretrain: am,
            paper_mse: None,
            paper_data_efficiency: None,
        };
        let rb = Protocol {
            stride: 4,
            // The middle quarter of x: x ∈ [1.5, 2.5) of [0, 4) (512×128 → 128×128).
            crop: Crop { x: [0.375, 0.625], y: [0.0, 1.0] },
            probe_max_train_windows: Some(10_240),
            pretrain: PretrainRecipe { lr: 1e-4, epochs: 30, warmup_epochs: 6.0, noise_std: 0.0 },
            ..generic
        };
        let rb = Protocol { paper_mse: Some(PaperMse { jepa: 0.13, videomae: 0.18, disco: 0.01, mpp: 0.08 }), ..rb };
        match system {
            Some(SystemId::ActiveMatter) => Protocol {
                stride: 1,
                probe_noise_std: 1.0,
                paper_mse: Some(PaperMse { jepa: 0.079, videomae: 0.160, disco: 0.057, mpp: 0.230 }),
                ..generic
            },
            Some(SystemId::ShearFlow) => Protocol {
                stride: 4,
                // All of x, the first half of y (256×512 → 256×256).
                crop: Crop { x: [0.0, 1.0], y: [0.0, 0.5] },
                probe_noise_std: 1.0,
                probe_max_train_windows: Some(20_480),
                probe_batch: 64,
                pretrain: PretrainRecipe { lr: 1e-4, epochs: 6, warmup_epochs: 1.2, noise_std: 1.0 },
                paper_mse: Some(PaperMse { jepa: 0.38, videomae: 0.67, disco: 0.13, mpp: 0.59 }),
                paper_data_efficiency: Some(PaperDataEfficiency { jepa: [0.57, 0.40, 0.38], videomae: [0.98, 0.75, 0.67] }),
            },
            Some(SystemId::RayleighBenard) => rb,
            // The uniform variant shares RB's windows and crop; its probe caps and recipe are the generic ones.
            Some(SystemId::RayleighBenardUniform) => Protocol { stride: rb.stride, crop: rb.crop, ..generic },
            Some(SystemId::GrayScott | SystemId::Advection) | None => generic,
        }
    }

    /// The protocol of a dataset name (see [`Protocol::of`]).
    pub fn of_name(dataset_name: &str) -> Protocol {
        Protocol::of(SystemId::from_name(dataset_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for s in SystemId::ALL {
            assert_eq!(s.name().parse::<SystemId>().unwrap(), s);
            assert_eq!(s.to_string(), s.name());
        }
        let e = "turbulence".parse::<SystemId>().unwrap_err();
        assert!(e.to_string().contains("turbulence") && e.to_string().contains("rayleigh_benard"));
        assert_eq!(SystemId::PAPER.map(SystemId::name), ["active_matter", "shear_flow", "rayleigh_benard"]);
    }

    /// The paper's numbers (`docs/paper-protocol.md` §2, §9, §10.1).
    #[test]
    fn the_papers_per_system_values() {
        let [am, sf, rb] = SystemId::PAPER.map(SystemId::protocol);
        assert_eq!((am.stride, sf.stride, rb.stride), (1, 4, 4));
        assert_eq!((am.probe_noise_std, sf.probe_noise_std, rb.probe_noise_std), (1.0, 1.0, 0.0));
        assert_eq!(
            (am.probe_max_train_windows, sf.probe_max_train_windows, rb.probe_max_train_windows),
            (None, Some(20_480), Some(10_240))
        );
        assert_eq!((am.probe_batch, sf.probe_batch, rb.probe_batch), (32, 64, 32));
        assert_eq!((am.pretrain.lr, sf.pretrain.lr, rb.pretrain.lr), (1e-3, 1e-4, 1e-4));
        assert_eq!((am.pretrain.epochs, sf.pretrain.epochs, rb.pretrain.epochs), (30, 6, 30));
        assert_eq!((am.crop, sf.crop.y, rb.crop.x), (Crop::FULL, [0.0, 0.5], [0.375, 0.625]));
        assert_eq!(
            (am.paper_mse.unwrap().of("jepa"), sf.paper_mse.unwrap().of("mpp"), rb.paper_mse.unwrap().of("disco")),
            (Some(0.079), Some(0.59), Some(0.01))
        );
        assert_eq!(sf.paper_data_efficiency.unwrap().of("videomae", 0.5), Some(0.75));
        assert!(am.paper_data_efficiency.is_none() && am.paper_mse.unwrap().of("supervised").is_none());
        let unknown = Protocol::of_name("something_else");
        assert_eq!((unknown.stride, unknown.crop, unknown.pretrain), (16, Crop::FULL, am.pretrain));
        assert_eq!(Protocol::of_name("rayleigh_benard_uniform").crop, rb.crop);
    }
}
