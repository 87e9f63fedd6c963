//! `physrep reproduce` presets: what each one simulates, trains and probes.
//!
//! | preset | data | pretraining | probes | MPP fine-tuning | seeds | budget (2 cores) |
//! |---|---|---|---|---|---|---|
//! | `smoke` | simulated, `tiny`; the control on `lhs:7` | `tiny` (≤ 10 updates) | attentive (few epochs) + linear | 2 epochs, batch 8, lr 1e-4 | 1 | a few min, in CI |
//! | `default` | simulated, `small`; the control on `lhs:40` | `tiny` models, 16 updates of 8 clips | attentive, linear, kNN; 10/50/100 % | 2 epochs of ≤ 64 windows, batch 8, lr 1e-4 | 1 (+ bootstrap intervals) | ≤ 15 min |
//! | `study` | simulated, `small`: AM, RB and the control, each on `lhs:120x2` (84 / 18 / 18 points, 2 trajectories each) | JEPA and VideoMAE, 150 updates of 32 clips, conv encoder 8-16-16-32-32 with layer scale 0.1; learning curves every 30 updates | attentive, linear, kNN at 100 %, windows at stride 16 | none (MPP, DISCO not run) | 4 | hours |
//! | `full` | simulated, `medium` (MiniWell scale); the control on `lhs:60` | `medium` (paper model and schedule at 64²) | all four probes | the paper's (30 epochs, batch 64, lr 1e-5) | 3 | hours |
//! | `paper` | The Well (`--well-dir`) or `medium` | `paper` (224², paper schedule) | all four probes | the paper's | 3 | GPU days |
//!
//! One size scale names the parts a study composes: data (`physrep simulate --preset`) and model with its
//! schedule (`physrep pretrain --preset`) each come in `tiny` < `small` < `medium`, pretraining adds the
//! paper's full `paper` scale; the study presets above name the whole study (`default` is only the
//! study's: the pretraining preset once called `default` is `medium`).
//!
//! Every preset also runs the study's controls: each JEPA and VideoMAE run probed at its own initial weights (`-init` rows), the
//! supervised ceiling (JEPA's encoder trained on the labels with the same schedule) and the
//! trivial-statistics baseline, and reports paired bootstrap comparisons between them. The simulated
//! presets add the advection control system (its speed is invisible in any single frame), on a design
//! split by parameter point; `paper`, which may read The Well, does not.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use physrep_eval::ProbeKind;
use physrep_train::MethodKind;
use physrep_well::SystemId;
use serde::{Deserialize, Serialize};

/// The learnability control (`physrep_sim::advection`): its one parameter, a speed, is invisible in any
/// single frame and needed to predict the next frames.
pub const CONTROL_SYSTEM: SystemId = SystemId::Advection;
/// Every method of the paper, in its table order.
pub const PAPER_METHODS: [MethodKind; 4] = [MethodKind::Jepa, MethodKind::VideoMae, MethodKind::Mpp, MethodKind::Disco];

/// The resolved plan of a study (written to `OUT/plan.json`; every stage hashes its part of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub preset: String,
    pub systems: Vec<SystemId>,
    pub methods: Vec<MethodKind>,
    /// Pretraining seeds (one encoder per seed, system and method).
    pub seeds: Vec<u64>,
    /// Real Well data (`<dir>/<system>`) instead of simulation.
    pub well_dir: Option<PathBuf>,
    /// Simulator preset (`tiny`, `small`, `medium`) when simulating.
    pub sim_preset: physrep_sim::Preset,
    /// Per system: a continuous parameter design (`lhs:N`, `physrep simulate --design`) instead of the
    /// preset's grid, split by parameter point so that valid and test parameter values are never seen in
    /// training. Systems not listed use the grid (The Well's split by initial condition).
    #[serde(default)]
    pub designs: BTreeMap<SystemId, String>,
    pub sim_seed: u64,
    /// Pretraining preset of `physrep pretrain` (`tiny`, `small`, `medium`, `paper`).
    pub train_preset: physrep_train::Preset,
    /// Changes to every pretraining run's config (after the pretraining preset).
    pub train: TrainPatch,
    /// Further changes for one method's runs only, over `train` (the VICReg fields are JEPA's).
    #[serde(default)]
    pub method_train: BTreeMap<MethodKind, TrainPatch>,
    /// Probes run on every frozen encoder.
    pub probes: Vec<ProbeKind>,
    pub probe_epochs: usize,
    pub probe_fractions: Vec<f64>,
    /// Cap on probe training windows (`None` = the paper's).
    pub probe_max_train_windows: Option<usize>,
    /// Window stride of the probes' windows in every split (`None` = the paper's per system: active
    /// matter 1, shear flow and Rayleigh–Bénard 4). Longer strides give fewer, less correlated windows.
    #[serde(default)]
    pub probe_stride: Option<usize>,
    /// Probe micro-batch and micro-batches per update (`None` = the paper's: 32 or 64, 256 / batch).
    pub probe_batch: Option<usize>,
    pub probe_accum: Option<usize>,
    /// The attentive probe's lr × weight-decay sweep (`None` = `physrep probe`'s default grid).
    pub probe_sweep: Option<(Vec<f64>, Vec<f64>)>,
    /// Factor on the paper's input-noise σ (AM, SF 1.0; RB 0) in pretraining and probing. 1 = the paper.
    /// At reduced resolution the same per-pixel σ buries far more of the signal (a region of fixed
    /// physical size holds (224 / R)² fewer pixels to average it out), so the CPU presets scale σ by
    /// R / 224 to keep the paper's signal-to-noise ratio per unit area.
    pub noise_scale: f32,
    /// Methods whose runs are also probed at their own initial weights (`RUN/init.mpk`): rows
    /// `<method>-init`, the paired control of "did pretraining learn?".
    #[serde(default)]
    pub init_controls: Vec<MethodKind>,
    /// Learning curves: the runs of `init_controls` keep a checkpoint every `K` updates, and the first
    /// seed's run of each is probed with ridge at its initial weights and at every checkpoint (stage
    /// `curve`, `RUN/curve/`): when, if ever, pretraining moves the representation off its init.
    #[serde(default)]
    pub curve_every: Option<u64>,
    /// Probe the trivial-statistics baseline (row `stats`, ridge and kNN probes only).
    #[serde(default)]
    pub stats_baseline: bool,
    /// Train the supervised ceiling (JEPA's encoder trained on the labels, row `supervised`) with the
    /// same data, schedule and seeds as the pretraining runs; a system whose ceiling does not beat the
    /// floor is reported as not identifiable at this resolution.
    #[serde(default)]
    pub ceiling: bool,
    /// Epochs of MPP's end-to-end fine-tuning (the paper's Table 1 protocol for MPP; 0 = skip it and
    /// report MPP's frozen probe).
    pub finetune_epochs: usize,
    /// Cap on fine-tuning training windows (`None` = all, as the paper).
    pub finetune_max_train_windows: Option<usize>,
    /// Fine-tuning batch and lr (`None` = the paper's 64 and 1e-5). The CPU presets' few windows give the
    /// paper's batch one or two updates per epoch, so they use batch 8 and lr 1e-4.
    pub finetune_batch: Option<usize>,
    pub finetune_lr: Option<f64>,
}

/// Changes a study makes to the pretraining config, over the pretraining preset (`None`: the preset's
/// value). [`TrainPatch::overrides`] turns them into the `key=value` patches `physrep pretrain` reads.
/// The schedule fields fit every method; the rest name fields of some methods only and belong in
/// [`Plan::method_train`] of those (conv encoder: JEPA and the supervised ceiling; the others: JEPA).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainPatch {
    pub max_updates: Option<u64>,
    /// Epochs of the schedule; set far beyond `max_updates` for the updates to bind on small datasets
    /// (a preset's few epochs end a run early).
    pub epochs: Option<usize>,
    pub global_batch: Option<usize>,
    pub micro_batch: Option<usize>,
    pub lr: Option<f64>,
    /// JEPA only: VICReg's chunks per micro-batch.
    pub vicreg_chunks: Option<usize>,
    /// JEPA only: accept chunks with fewer rows than embedding dimensions (toy sizes).
    pub allow_rank_deficient: Option<bool>,
    /// Conv encoder (JEPA, supervised): channel width per stage.
    pub encoder_dims: Option<Vec<usize>>,
    /// Conv encoder (JEPA, supervised): initial layer-scale γ of the residual blocks.
    pub layer_scale_init: Option<f64>,
    /// JEPA only: predictor width and hidden width (width = the encoder's last stage).
    pub predictor: Option<(usize, usize)>,
    /// JEPA only: compare token maps or the clips' mean tokens.
    pub jepa_target: Option<physrep_train::methods::JepaTarget>,
    /// How context and target are paired (same clip, or two initial conditions of one point).
    pub views: Option<physrep_train::Views>,
}

impl TrainPatch {
    /// `self` with every value `later` sets replaced by `later`'s.
    pub fn then(&self, later: &TrainPatch) -> TrainPatch {
        TrainPatch {
            max_updates: later.max_updates.or(self.max_updates),
            epochs: later.epochs.or(self.epochs),
            global_batch: later.global_batch.or(self.global_batch),
            micro_batch: later.micro_batch.or(self.micro_batch),
            lr: later.lr.or(self.lr),
            vicreg_chunks: later.vicreg_chunks.or(self.vicreg_chunks),
            allow_rank_deficient: later.allow_rank_deficient.or(self.allow_rank_deficient),
            encoder_dims: later.encoder_dims.clone().or_else(|| self.encoder_dims.clone()),
            layer_scale_init: later.layer_scale_init.or(self.layer_scale_init),
            predictor: later.predictor.or(self.predictor),
            jepa_target: later.jepa_target.or(self.jepa_target),
            views: later.views.or(self.views),
        }
    }

    /// The `key=value` patches of the values set, in a fixed order.
    pub fn overrides(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut set = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                out.push(format!("{key}={v}"));
            }
        };
        // An enum's config name, as its serde form writes it (`"cross_trajectory"` → cross_trajectory).
        fn name<T: Serialize>(v: &T) -> String {
            serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).expect("a unit enum variant")
        }
        set("train.max_updates", self.max_updates.map(|v| v.to_string()));
        set("train.epochs", self.epochs.map(|v| v.to_string()));
        set("train.global_batch", self.global_batch.map(|v| v.to_string()));
        set("train.micro_batch", self.micro_batch.map(|v| v.to_string()));
        set("train.lr", self.lr.map(|v| format!("{v:e}")));
        set("method.vicreg.chunks", self.vicreg_chunks.map(|v| v.to_string()));
        set("method.vicreg.allow_rank_deficient", self.allow_rank_deficient.map(|v| v.to_string()));
        set("method.encoder.dims", self.encoder_dims.as_ref().map(|d| format!("{d:?}")));
        set("method.encoder.layer_scale_init", self.layer_scale_init.map(|v| format!("{v:e}")));
        set("method.predictor.dim", self.predictor.map(|(d, _)| d.to_string()));
        set("method.predictor.hidden", self.predictor.map(|(_, h)| h.to_string()));
        set("method.target", self.jepa_target.as_ref().map(name));
        set("data.views", self.views.as_ref().map(name));
        out
    }
}

impl Plan {
    /// The plan of a named preset.
    pub fn preset(name: &str) -> Result<Plan> {
        let base = Plan {
            preset: name.to_string(),
            systems: SystemId::PAPER.to_vec(),
            methods: PAPER_METHODS.to_vec(),
            seeds: vec![0],
            well_dir: None,
            sim_preset: physrep_sim::Preset::Tiny,
            designs: BTreeMap::new(),
            sim_seed: 0,
            train_preset: physrep_train::Preset::Tiny,
            // The tiny simulated sets hold only a few 16 + 16-frame windows per split: one sample per update.
            train: TrainPatch { micro_batch: Some(1), global_batch: Some(1), ..TrainPatch::default() },
            // One 32² clip gives JEPA 2×2 token rows for 16 dimensions: VICReg's covariance is
            // rank-deficient at this toy size, knowingly (`VicregConfig::check_rows`).
            method_train: BTreeMap::from([(MethodKind::Jepa, TrainPatch { allow_rank_deficient: Some(true), ..TrainPatch::default() })]),
            probes: vec![ProbeKind::Attentive, ProbeKind::Linear],
            probe_epochs: 5,
            probe_fractions: vec![0.5, 1.0],
            probe_max_train_windows: None,
            probe_stride: None,
            probe_batch: None,
            probe_accum: None,
            probe_sweep: None,
            noise_scale: 1.0,
            init_controls: vec![MethodKind::Jepa, MethodKind::VideoMae],
            curve_every: None,
            stats_baseline: true,
            ceiling: true,
            finetune_epochs: 30,
            finetune_max_train_windows: None,
            finetune_batch: None,
            finetune_lr: None,
        };
        // The paper's systems, then the control on a design split by parameter point.
        let with_control = |mut plan: Plan, design: &str| {
            plan.systems.push(CONTROL_SYSTEM);
            plan.designs.insert(CONTROL_SYSTEM, design.into());
            plan
        };
        Ok(match name {
            "smoke" => with_control(
                Plan {
                    finetune_epochs: 2,
                    finetune_batch: Some(8),
                    finetune_lr: Some(1e-4),
                    probe_batch: Some(32),
                    probe_accum: Some(1),
                    probe_sweep: Some((vec![1e-3], vec![0.01])),
                    noise_scale: 32.0 / 224.0,
                    curve_every: Some(5),
                    ..base
                },
                "lhs:7",
            ),
            "default" => with_control(
                Plan {
                    sim_preset: physrep_sim::Preset::Small,
                    train: TrainPatch {
                        max_updates: Some(16),
                        global_batch: Some(8),
                        micro_batch: Some(4),
                        lr: Some(1e-3),
                        ..TrainPatch::default()
                    },
                    // JEPA's VICReg in one chunk of 8 clips × 2×2 tokens = 32 rows for 16 dimensions
                    // (5 chunks of micro-batches of 4 gave chunks of 4 rows: a rank-deficient covariance).
                    method_train: BTreeMap::from([(
                        MethodKind::Jepa,
                        TrainPatch { micro_batch: Some(8), vicreg_chunks: Some(1), ..TrainPatch::default() },
                    )]),
                    probes: vec![ProbeKind::Attentive, ProbeKind::Linear, ProbeKind::Knn],
                    probe_epochs: 30,
                    probe_fractions: vec![0.1, 0.5, 1.0],
                    probe_max_train_windows: Some(2048),
                    // A few hundred windows per system: the paper's 256-window updates would give the
                    // probe two updates per epoch.
                    probe_batch: Some(32),
                    probe_accum: Some(1),
                    // The paper's probe lr / weight decay only: a sweep would multiply the probe cost.
                    probe_sweep: Some((vec![1e-3], vec![0.01])),
                    noise_scale: 32.0 / 224.0,
                    // Fine-tuning runs the AViT forward and backward on every clip each epoch: kept small.
                    finetune_epochs: 2,
                    finetune_max_train_windows: Some(64),
                    finetune_batch: Some(8),
                    finetune_lr: Some(1e-4),
                    ..base
                },
                "lhs:40",
            ),
            // Issue #16's study: can it tell whether pretraining learned? JEPA against its own initial
            // weights and against VideoMAE at equal clip passes, with the supervised ceiling, the statistics
            // baseline and learning curves, on designs split by parameter point (18 valid + 18 test points per
            // system), four seeds. The encoder is wider than `tiny` and starts its residual blocks at layer
            // scale 0.1: the `tiny` encoder (4 channels, layer scale 1e-6) cannot learn the control's speed
            // even from its labels (notes/2026-12-07-recipe.md).
            "study" => {
                let design = "lhs:120x2";
                let conv = TrainPatch { encoder_dims: Some(vec![8, 16, 16, 32, 32]), layer_scale_init: Some(0.1), ..TrainPatch::default() };
                let mut plan = with_control(
                    Plan {
                        systems: vec![SystemId::ActiveMatter, SystemId::RayleighBenard],
                        methods: vec![MethodKind::Jepa, MethodKind::VideoMae],
                        seeds: vec![0, 1, 2, 3],
                        sim_preset: physrep_sim::Preset::Small,
                        train: TrainPatch {
                            max_updates: Some(150),
                            // The updates bind, not the `tiny` preset's 2 epochs (42 updates on the control).
                            epochs: Some(100_000),
                            global_batch: Some(32),
                            micro_batch: Some(16),
                            lr: Some(1e-3),
                            ..TrainPatch::default()
                        },
                        // VICReg in one chunk of 16 clips × 2×2 tokens = 64 rows for 32 dimensions.
                        method_train: BTreeMap::from([
                            (MethodKind::Jepa, TrainPatch { vicreg_chunks: Some(1), predictor: Some((32, 64)), ..conv.clone() }),
                            (MethodKind::Supervised, conv),
                        ]),
                        probes: vec![ProbeKind::Attentive, ProbeKind::Linear, ProbeKind::Knn],
                        probe_epochs: 30,
                        probe_fractions: vec![1.0],
                        probe_max_train_windows: Some(2048),
                        // 2–4 windows per trajectory instead of active matter's 17: 72–144 test windows
                        // on 18 points per system, and the probes' embedding cost cut by up to 8×.
                        probe_stride: Some(16),
                        probe_batch: Some(32),
                        probe_accum: Some(1),
                        probe_sweep: Some((vec![1e-3], vec![0.01])),
                        noise_scale: 32.0 / 224.0,
                        curve_every: Some(30),
                        finetune_epochs: 0,
                        ..base
                    },
                    design,
                );
                for system in [SystemId::ActiveMatter, SystemId::RayleighBenard] {
                    plan.designs.insert(system, design.into());
                }
                plan
            }
            "full" => with_control(
                Plan {
                    seeds: vec![0, 1, 2],
                    sim_preset: physrep_sim::Preset::Medium,
                    train_preset: physrep_train::Preset::Medium,
                    // The preset's own batches (the paper's schedule), not the tiny sets' one clip per update.
                    train: TrainPatch::default(),
                    method_train: BTreeMap::new(),
                    noise_scale: 64.0 / 224.0,
                    probes: ProbeKind::ALL.to_vec(),
                    probe_epochs: 100,
                    probe_fractions: vec![0.1, 0.5, 1.0],
                    ..base
                },
                "lhs:60",
            ),
            "paper" => Plan {
                seeds: vec![0, 1, 2],
                sim_preset: physrep_sim::Preset::Medium,
                train_preset: physrep_train::Preset::Paper,
                // The preset's own batches (the paper's schedule), not the tiny sets' one clip per update.
                train: TrainPatch::default(),
                method_train: BTreeMap::new(),
                probes: ProbeKind::ALL.to_vec(),
                probe_epochs: 100,
                probe_fractions: vec![0.1, 0.5, 1.0],
                ..base
            },
            other => bail!("unknown preset `{other}` (expected smoke, default, study, full or paper)"),
        })
    }

    /// Every how many updates `method`'s runs keep a checkpoint for the learning curve (`None`: no curve).
    pub fn curve_every_for(&self, method: MethodKind) -> Option<u64> {
        self.curve_every.filter(|_| self.init_controls.contains(&method))
    }

    /// The methods pretrained: the plan's, then the supervised ceiling if planned.
    pub fn trained_methods(&self) -> Vec<MethodKind> {
        let mut m = self.methods.clone();
        if self.ceiling {
            m.push(MethodKind::Supervised);
        }
        m
    }

    /// Every arm of the report, in its table order: the methods, their own-init controls, the
    /// supervised ceiling and the statistics baseline.
    pub fn arms(&self) -> Vec<String> {
        let mut arms: Vec<String> = self.methods.iter().map(|m| m.to_string()).collect();
        arms.extend(self.methods.iter().filter(|m| self.init_controls.contains(m)).map(|m| format!("{m}-init")));
        if self.ceiling {
            arms.push("supervised".into());
        }
        if self.stats_baseline {
            arms.push("stats".into());
        }
        arms
    }

    /// The probes the statistics baseline runs: the plan's ridge and kNN (its one feature token leaves
    /// nothing for attention to pool), else ridge alone.
    pub fn stats_probes(&self) -> Vec<ProbeKind> {
        let p: Vec<ProbeKind> = self.probes.iter().filter(|p| matches!(p, ProbeKind::Linear | ProbeKind::Knn)).copied().collect();
        if p.is_empty() {
            vec![ProbeKind::Linear]
        } else {
            p
        }
    }

    /// Refuse a plan that cannot run before anything is written: every system must be one physrep
    /// simulates, or, with `well_dir`, a dataset under it.
    pub fn check(&self) -> Result<()> {
        for system in &self.systems {
            match &self.well_dir {
                None if !physrep_sim::generate::SYSTEM_NAMES.contains(&system.name()) => bail!(
                    "--systems: physrep cannot simulate `{system}` (expected one of {}; or read The Well with --well-dir)",
                    physrep_sim::generate::SYSTEM_NAMES.join(", ")
                ),
                Some(dir) if !dir.join(system.name()).join("data").is_dir() => {
                    bail!("--systems: {} has no `{system}` dataset (no {})", dir.display(), dir.join(system.name()).join("data").display())
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Restrict systems / methods / seeds, checking every name.
    pub fn restrict(mut self, systems: Option<Vec<String>>, methods: Option<Vec<String>>, seeds: Option<usize>) -> Result<Plan> {
        if let Some(s) = systems {
            if s.is_empty() {
                bail!("--systems: give at least one system");
            }
            self.systems = s.iter().map(|name| name.parse().map_err(|e| anyhow::anyhow!("--systems: {e}"))).collect::<Result<_>>()?;
        }
        if let Some(m) = methods {
            let names = || PAPER_METHODS.map(MethodKind::as_str).join(", ");
            self.methods = m
                .iter()
                .map(|name| match name.parse() {
                    Ok(kind) if PAPER_METHODS.contains(&kind) => Ok(kind),
                    _ => bail!("--methods: unknown method `{name}` (expected one of {})", names()),
                })
                .collect::<Result<_>>()?;
            if self.methods.is_empty() {
                bail!("--methods: give at least one method");
            }
        }
        if let Some(n) = seeds {
            if n == 0 {
                bail!("--seeds must be ≥ 1");
            }
            self.seeds = (0..n as u64).collect();
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_resolve_and_unknown_names_are_errors() {
        for p in ["smoke", "default", "study", "full", "paper"] {
            let plan = Plan::preset(p).unwrap();
            if p == "study" {
                assert_eq!(plan.methods, [MethodKind::Jepa, MethodKind::VideoMae]);
                assert_eq!(plan.systems, [SystemId::ActiveMatter, SystemId::RayleighBenard, CONTROL_SYSTEM]);
                assert!(plan.systems.iter().all(|s| plan.designs[s] == "lhs:120x2"), "every study system on a design");
                assert!(plan.seeds.len() >= 4 && plan.curve_every.is_some());
                // Its small designs give the control ≈ 21 updates per epoch: the epochs must not bind.
                assert!(plan.train.overrides().contains(&"train.epochs=100000".to_string()));
            } else {
                assert_eq!(plan.methods.len(), 4);
                assert_eq!(&plan.systems[..3], SystemId::PAPER);
            }
            // The control runs on a design (split by parameter point) wherever it runs.
            assert_eq!(plan.systems.contains(&CONTROL_SYSTEM), plan.designs.contains_key(&CONTROL_SYSTEM), "{p}");
            assert_eq!(plan.arms().iter().filter(|a| a.ends_with("-init")).count(), 2, "{p}: jepa-init and videomae-init");
        }
        // MPP is fine-tuned everywhere: briefly in the CPU presets, the paper's 30 epochs at full scale.
        let epochs: Vec<usize> = ["smoke", "default", "full", "paper"].iter().map(|p| Plan::preset(p).unwrap().finetune_epochs).collect();
        assert_eq!(epochs, [2, 2, 30, 30]);
        assert!(Plan::preset("huge").is_err());
        let p = Plan::preset("smoke").unwrap();
        assert!(p.clone().restrict(None, Some(vec!["bogus".into()]), None).is_err());
        let r = p.restrict(Some(vec!["shear_flow".into()]), Some(vec!["jepa".into()]), Some(2)).unwrap();
        assert_eq!(r.systems, vec![SystemId::ShearFlow]);
        assert!(Plan::preset("smoke").unwrap().restrict(Some(vec!["turbulence".into()]), None, None).is_err());
        assert!(Plan::preset("smoke").unwrap().restrict(None, Some(vec!["supervised".into()]), None).is_err());
        assert_eq!(r.seeds, vec![0, 1]);
        // A method's patch wins over the study's; unset values are not written.
        let d = Plan::preset("default").unwrap();
        let jepa = d.train.then(&d.method_train[&MethodKind::Jepa]).overrides();
        assert_eq!(
            jepa,
            ["train.max_updates=16", "train.global_batch=8", "train.micro_batch=8", "train.lr=1e-3", "method.vicreg.chunks=1"]
        );
        assert_eq!(TrainPatch::default().overrides(), Vec::<String>::new());
    }
}
