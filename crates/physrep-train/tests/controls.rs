//! The training-side controls on the active_matter fixture (12 train windows, 32² after resizing):
//! every run saves its exact initial weights (`RUN/init.mpk`, the paired own-init control), keeps
//! them when resumed, regenerates them bit for bit when missing, and loads them as an encoder; the
//! supervised ceiling trains through the same loop, lowers its MSE and exports a loadable encoder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use physrep_nn::conv_jepa::ConvJepa;
use physrep_nn::{Cpu, CpuAutodiff, KernelBackend};
use physrep_train::checkpoint::load_module;
use physrep_train::method::{Method, StepContext, StepOutput, TensorBatch};
use physrep_train::methods::JepaMethod;
use physrep_train::pretrain::resolve_config;
use physrep_train::{
    init_model, load_encoder, load_init_encoder, pretrain, train, well_source, DataSource, MethodConfig, MethodKind, Phase, Preset,
    PretrainOptions, RunControl, RunDir, Views, WellSource,
};
use physrep_well::{Preprocess, Split, WellDataset, WindowRef};
use serde_json::Value;

fn fixture() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(shared.exists(), "fixtures not found: {} must exist (CI provides /work/shared)", shared.display());
    shared.join("fixtures/well/active_matter")
}

/// A tiny run of `method`: micro 4 → 3 updates per epoch, 2 epochs, checkpoints every update.
fn opts(method: MethodKind, out: &Path) -> PretrainOptions {
    let mut o = PretrainOptions::new(method, fixture(), out);
    o.preset = Some(Preset::Tiny);
    o.overrides = [
        "train.epochs=2",
        "train.max_updates=6",
        "train.micro_batch=4",
        "train.global_batch=4",
        "train.checkpoint_every=1",
        "train.lr=4e-3",
        "train.max_valid_batches=1",
    ]
    .map(String::from)
    .to_vec();
    if method == MethodKind::Jepa {
        o.overrides.push("method.vicreg.allow_rank_deficient=true".into());
    }
    o
}

/// The encoder's tokens of two fixed clips `(2, 11, 16, 32, 32)`, flattened.
fn tokens(enc: &dyn physrep_nn::ClipEncoder<Cpu>) -> Vec<f32> {
    let n = 2 * 11 * 16 * 32 * 32;
    let values: Vec<f32> = (0..n).map(|i| (i % 97) as f32 / 48.0 - 1.0).collect();
    let clips = Tensor::<Cpu, 5>::from_data(TensorData::new(values, [2, 11, 16, 32, 32]), &Default::default());
    enc.encode_tokens(clips).unwrap().into_data().to_vec::<f32>().unwrap()
}

/// Every float parameter of `model`, as f32 bit patterns in visiting order.
fn weights<B: Backend, M: Module<B>>(model: &M) -> Vec<u32> {
    physrep_train::checkpoint::parameter_bits(model)
}

/// JEPA that records the weights it is given at the first micro-batch (before any optimiser step).
struct Spy {
    inner: JepaMethod,
    first: Mutex<Option<Vec<u32>>>,
}

impl<B: AutodiffBackend + KernelBackend> Method<B> for Spy {
    type Model = ConvJepa<B>;
    fn name(&self) -> &'static str {
        "spy"
    }
    fn init(&self, device: &B::Device) -> Self::Model {
        <JepaMethod as Method<B>>::init(&self.inner, device)
    }
    fn forward(&self, model: &Self::Model, batch: &TensorBatch<B>, ctx: &StepContext) -> Result<StepOutput<B>, physrep_train::TrainError> {
        let mut first = self.first.lock().unwrap();
        if first.is_none() {
            assert_eq!((ctx.update, ctx.micro), (0, 0));
            *first = Some(weights(model));
        }
        self.inner.forward(model, batch, ctx)
    }
}

#[test]
fn init_weights_are_the_loops_first_weights_and_survive_resume() {
    let tmp = tempfile::tempdir().unwrap();
    // The loop's own first weights, seen from inside the first forward pass.
    let o = opts(MethodKind::Jepa, tmp.path());
    let ds = Arc::new(WellDataset::open(fixture()).unwrap());
    let cfg = resolve_config(&o, &ds).unwrap();
    let MethodConfig::Jepa(jepa) = &cfg.method else { unreachable!() };
    let source = WellSource::new(ds, &cfg.data, cfg.train.micro_batch, cfg.train.noise_std, cfg.train.seed).unwrap();
    let spy = Spy { inner: JepaMethod { config: jepa.clone() }, first: Mutex::new(None) };
    let loop_dir = tmp.path().join("loop");
    let control = RunControl { stop_after: Some(1), ..Default::default() };
    train::<CpuAutodiff, _>(&spy, &source, &cfg.train, &loop_dir, &control, &Default::default()).unwrap();
    let template = || ConvJepa::<Cpu>::new(&jepa.encoder, &jepa.predictor, &Default::default()).unwrap();
    let file = |p: &Path| weights(&load_module(template(), p, &Default::default()).unwrap());
    let saved = file(&loop_dir.join("init.mpk"));
    assert!(saved.len() > 20_000, "{} parameters", saved.len());
    let first = spy.first.lock().unwrap().clone().unwrap();
    assert!(first == saved, "init.mpk differs from the weights of the first forward pass");
    // … which are init_model(seed)'s, and the first update changed them.
    assert!(weights(&init_model::<CpuAutodiff, _>(&spy, cfg.train.seed, &Default::default())) == saved);
    let after = file(&loop_dir.join("checkpoints/update-00000001/model.mpk"));
    assert!(after != saved);

    // Through pretrain(): an interrupted run has init.mpk and the initial encoder export.
    let run_dir = tmp.path().join("run");
    let run = RunDir::new(&run_dir);
    let mut o = opts(MethodKind::Jepa, &run_dir);
    o.stop_after = Some(2);
    pretrain(&o).unwrap();
    assert!(file(&run.init_model_path()) == saved, "same seed, same initial weights");
    let init_st = std::fs::read(run.init_encoder_safetensors()).unwrap();
    let init_tokens = tokens(load_init_encoder(&run_dir).unwrap().as_ref());
    // A resumed run keeps an existing file (a stand-in proves it is not rewritten) …
    std::fs::write(run.init_model_path(), b"kept").unwrap();
    let mut r = opts(MethodKind::Jepa, &run_dir);
    r.resume = true;
    r.stop_after = Some(4);
    pretrain(&r).unwrap();
    assert_eq!(std::fs::read(run.init_model_path()).unwrap(), b"kept");
    // … and regenerates a missing one identically, also once the run has finished.
    std::fs::remove_file(run.init_model_path()).unwrap();
    r.stop_after = None;
    let done = pretrain(&r).unwrap();
    assert!(done.finished && done.updates == 6);
    assert!(file(&run.init_model_path()) == saved);
    std::fs::remove_file(run.init_model_path()).unwrap();
    std::fs::remove_file(run.init_encoder_safetensors()).unwrap();
    assert!(load_init_encoder(&run_dir).err().unwrap().to_string().contains("--resume"));
    pretrain(&r).unwrap();
    assert!(file(&run.init_model_path()) == saved);
    assert!(std::fs::read(run.init_encoder_safetensors()).unwrap() == init_st);

    // The initial encoder is the one the run started from, and training moved it.
    assert_eq!(tokens(load_init_encoder(&run_dir).unwrap().as_ref()), init_tokens);
    let trained = tokens(load_encoder(&run_dir).unwrap().as_ref());
    let diff = trained.iter().zip(&init_tokens).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff > 1e-3, "6 updates at lr 4e-3 should move the encoder's tokens (max |Δ| = {diff})");
}

#[test]
fn supervised_ceiling_trains_in_the_loop_and_exports_its_encoder() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(MethodKind::Supervised, tmp.path());
    o.overrides.extend(["train.epochs=4", "train.max_updates=12", "train.lr=1e-2"].map(String::from));
    let s = pretrain(&o).unwrap();
    assert!(s.finished && s.updates == 12, "{s:?}");
    let text = std::fs::read_to_string(RunDir::new(tmp.path()).metrics_path()).unwrap();
    let loss: Vec<f64> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "train")
        .map(|r| r["loss"].as_f64().unwrap())
        .collect();
    let (head, tail) = (loss[..3].iter().sum::<f64>() / 3.0, loss[9..].iter().sum::<f64>() / 3.0);
    eprintln!("supervised training MSE {head:.4} → {tail:.4}");
    assert!(tail < 0.5 * head, "the label MSE should fall: first 3 updates {head:.4}, last 3 {tail:.4}");
    // Registry: the stored config round-trips, the encoder (and its own init) load with JEPA's geometry.
    let cfg = RunDir::new(tmp.path()).config().unwrap();
    assert_eq!(cfg.method.kind(), MethodKind::Supervised);
    assert!(toml::to_string(&cfg).unwrap().contains("kind = \"supervised\""));
    let enc = load_encoder(tmp.path()).unwrap();
    assert_eq!(enc.token_dim(), 16);
    assert_eq!(tokens(enc.as_ref()).len(), 2 * 4 * 16);
    assert_ne!(tokens(enc.as_ref()), tokens(load_init_encoder(tmp.path()).unwrap().as_ref()));
    assert!(RunDir::new(tmp.path()).encoder_safetensors().exists());
    // The head must match the dataset's label columns.
    let mut o = opts(MethodKind::Supervised, &tmp.path().join("bad"));
    o.overrides.push("method.num_labels=3".into());
    let e = pretrain(&o).unwrap_err().to_string();
    assert!(e.contains("method.num_labels") && e.contains("alpha"), "{e}");
}

/// `data.views=cross_trajectory`: each training window keeps its context, and its target is the same
/// frames of the other trajectory of its file (the fixture's files hold two initial conditions each);
/// a dataset with a one-trajectory file is refused, naming the file.
#[test]
fn cross_trajectory_views_take_the_target_from_another_initial_condition() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(MethodKind::Jepa, tmp.path());
    o.overrides.push("data.views=cross_trajectory".into());
    let ds = Arc::new(WellDataset::open(fixture()).unwrap());
    let cfg = resolve_config(&o, &ds).unwrap();
    assert_eq!(cfg.data.views, Views::CrossTrajectory);
    let micro = cfg.train.micro_batch;
    let source = WellSource::new(ds.clone(), &cfg.data, micro, 0.0, 5).unwrap();
    let pre = Preprocess::paper(ds.name(), Some([cfg.data.resolution; 2]), 0.0);
    let windows = ds.windows(Split::Train, &well_source::window_spec(&ds, &cfg.data)).unwrap();
    let samples: Vec<_> = windows.iter().map(|w| (*w, ds.read_sample(w, &pre, 0).unwrap())).collect();
    let mut rows = 0;
    for batch in source.batches(Phase::Train, 0, 0).unwrap() {
        let batch = batch.unwrap();
        for i in 0..batch.context.dim().0 {
            let ctx = batch.context.index_axis(ndarray::Axis(0), i);
            let (w, own) = samples.iter().find(|(_, s)| s.context == ctx).expect("a training window's context");
            let partner = WindowRef { trajectory: 1 - w.trajectory, ..*w };
            let other = ds.read_sample(&partner, &pre, 0).unwrap();
            let target = batch.target.index_axis(ndarray::Axis(0), i);
            assert_eq!(target, other.target, "window {w:?}: target from the other trajectory");
            assert_ne!(target, own.target);
            rows += 1;
        }
    }
    assert_eq!(rows, windows.len() / micro * micro);
    // The paper's pairing is untouched: same-clip windows carry no target trajectory.
    assert!(windows.iter().all(|w| w.target_trajectory.is_none()));
    // The Rayleigh–Bénard fixture holds one trajectory per file: nothing to pair with.
    let rb = Arc::new(WellDataset::open(fixture().with_file_name("rayleigh_benard")).unwrap());
    let e = WellSource::new(rb, &cfg.data, micro, 0.0, 5).err().expect("refused").to_string();
    assert!(e.contains("data.views") && e.contains(".hdf5") && e.contains("has 1"), "{e}");
}

/// `data.augment.flip/shift`: every training window of an augmented epoch is one symmetry of the same
/// window unaugmented (same order, same noise), and its context and target share that symmetry;
/// validation windows are untouched and a resumed epoch draws the same transforms.
#[test]
fn augmentation_applies_one_symmetry_to_context_and_target() {
    use physrep_train::augment::{Symmetries, Transform};
    let tmp = tempfile::tempdir().unwrap();
    let ds = Arc::new(WellDataset::open(fixture()).unwrap());
    let plain_opts = opts(MethodKind::Jepa, tmp.path());
    let plain_cfg = resolve_config(&plain_opts, &ds).unwrap();
    let mut aug_opts = opts(MethodKind::Jepa, tmp.path());
    aug_opts.overrides.extend(["data.augment.flip=true".to_string(), "data.augment.shift=true".to_string()]);
    let cfg = resolve_config(&aug_opts, &ds).unwrap();
    assert!(cfg.data.augment.flip && cfg.data.augment.shift);
    let micro = cfg.train.micro_batch;
    let plain = WellSource::new(ds.clone(), &plain_cfg.data, micro, 0.1, 5).unwrap();
    let aug = WellSource::new(ds.clone(), &cfg.data, micro, 0.1, 5).unwrap();
    let sym = Symmetries::new(&ds, &physrep_well::Crop::paper(ds.name()), cfg.data.augment).unwrap();
    let res = cfg.data.resolution;
    let group: Vec<Transform> =
        (0..4).flat_map(|f| (0..res * res).map(move |s| Transform { flip: [f & 1 == 1, f & 2 == 2], shift: [s / res, s % res] })).collect();
    let (mut rows, mut moved) = (0, 0);
    let batches = |src: &WellSource, phase, skip| src.batches(phase, 1, skip).unwrap().map(|b| b.unwrap()).collect::<Vec<_>>();
    let (p, a) = (batches(&plain, Phase::Train, 0), batches(&aug, Phase::Train, 0));
    assert_eq!(p.len(), a.len());
    for (pb, ab) in p.iter().zip(&a) {
        for i in 0..pb.context.dim().0 {
            let row = |x: &ndarray::Array5<f32>| x.index_axis(ndarray::Axis(0), i).to_owned();
            let t = group
                .iter()
                .find(|t| {
                    let mut c = row(&pb.context);
                    sym.apply(t, c.view_mut());
                    c == row(&ab.context)
                })
                .expect("an augmented context is a symmetry of the plain one");
            let mut target = row(&pb.target);
            sym.apply(t, target.view_mut());
            assert_eq!(target, row(&ab.target), "the target takes the context's transform {t:?}");
            moved += usize::from(*t != Transform::default());
            rows += 1;
        }
    }
    assert!(rows > 0 && moved > 0, "{moved} of {rows} windows transformed");
    // Resuming at micro-batch 1 draws the same transforms; validation is never augmented.
    assert_eq!(batches(&aug, Phase::Train, 1)[0].context, a[1].context);
    assert_eq!(batches(&aug, Phase::Valid, 0)[0].context, batches(&plain, Phase::Valid, 0)[0].context);
}
