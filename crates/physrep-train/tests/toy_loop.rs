//! The training loop on a linear toy problem: it optimises, accumulation is exact, leftovers are
//! dropped, NaN is caught, and an interrupted + resumed run is bit-identical to an uninterrupted one.

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use ndarray::{Array2, Array5};
use physrep_nn::CpuAutodiff;
use physrep_train::data::{epoch_order, BatchIter};
use physrep_train::{
    train, DataSource, HostBatch, LrSchedule, Method, Phase, RunControl, StepContext, StepOutput, TensorBatch, TrainConfig, TrainError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

type AD = CpuAutodiff;
const F: usize = 8; // features = C·T·H·W = 1·2·2·2

/// y = A x (2 outputs) for x uniform in [−1, 1]^8.
struct LinearData {
    train: Vec<([f32; F], [f32; 2])>,
    valid: Vec<([f32; F], [f32; 2])>,
    micro: usize,
    seed: u64,
}

impl LinearData {
    fn new(n_train: usize, n_valid: usize, micro: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(1234);
        let a: Vec<f32> = (0..2 * F).map(|_| rng.random_range(-1.0..1.0)).collect();
        let sample = |rng: &mut ChaCha8Rng| {
            let mut x = [0f32; F];
            for v in &mut x {
                *v = rng.random_range(-1.0..1.0);
            }
            let y = [0, 1].map(|r| (0..F).map(|c| a[r * F + c] * x[c]).sum::<f32>());
            (x, y)
        };
        let train = (0..n_train).map(|_| sample(&mut rng)).collect();
        let valid = (0..n_valid).map(|_| sample(&mut rng)).collect();
        LinearData { train, valid, micro, seed }
    }

    fn batch(items: &[([f32; F], [f32; 2])]) -> HostBatch {
        let b = items.len();
        let ctx: Vec<f32> = items.iter().flat_map(|(x, _)| x.iter().copied()).collect();
        let lab: Vec<f32> = items.iter().flat_map(|(_, y)| y.iter().copied()).collect();
        let context = Array5::from_shape_vec((b, 1, 2, 2, 2), ctx).unwrap();
        HostBatch { target: context.clone(), context, labels: Array2::from_shape_vec((b, 2), lab).unwrap() }
    }
}

impl DataSource for LinearData {
    fn batches_per_epoch(&self, phase: Phase) -> usize {
        match phase {
            Phase::Train => self.train.len() / self.micro,
            Phase::Valid => self.valid.len().div_ceil(self.micro),
        }
    }

    fn batches(&self, phase: Phase, epoch: u64, skip: usize) -> Result<BatchIter<'_>, TrainError> {
        let (items, order, n): (&[_], Vec<usize>, usize) = match phase {
            Phase::Train => (&self.train, epoch_order(self.train.len(), self.seed, epoch), self.batches_per_epoch(phase)),
            Phase::Valid => (&self.valid, (0..self.valid.len()).collect(), self.batches_per_epoch(phase)),
        };
        let micro = self.micro;
        Ok(Box::new((skip..n).map(move |i| {
            let idx = &order[i * micro..((i + 1) * micro).min(order.len())];
            let picked: Vec<_> = idx.iter().map(|&j| items[j]).collect();
            Ok(LinearData::batch(&picked))
        })))
    }

    fn clip_shape(&self) -> [usize; 5] {
        [1, 2, 2, 2, 2]
    }
}

#[derive(Module, Debug)]
/// burn's `Module` derive expects the backend parameter to be called `B`.
struct Lin<B: Backend> {
    linear: Linear<B>,
}

/// Least squares with a linear model; optionally poisons one micro-batch with NaN.
struct Toy {
    nan_at_micro: Option<u64>,
}

impl<B: AutodiffBackend> Method<B> for Toy {
    type Model = Lin<B>;

    fn name(&self) -> &'static str {
        "toy"
    }

    fn init(&self, device: &B::Device) -> Lin<B> {
        Lin { linear: LinearConfig::new(F, 2).init(device) }
    }

    fn forward(&self, model: &Lin<B>, batch: &TensorBatch<B>, ctx: &StepContext) -> Result<StepOutput<B>, physrep_train::TrainError> {
        let [b, c, t, h, w] = batch.context.dims();
        let x = batch.context.clone().reshape([b, c * t * h * w]);
        let pred = model.linear.forward(x);
        let mut loss = (pred.clone() - batch.labels.clone()).powf_scalar(2.0).mean();
        if self.nan_at_micro == Some(ctx.micro) {
            loss = loss.mul_scalar(f64::NAN);
        }
        let abs_err = (pred.clone() - batch.labels.clone()).abs().mean().into_scalar().elem::<f64>();
        Ok(StepOutput { loss, metrics: vec![("mae".into(), abs_err)], embeddings: Some(pred.detach()) })
    }
}

fn cfg(micro: usize, global: usize, epochs: u64) -> TrainConfig {
    TrainConfig {
        lr: 0.05,
        min_lr: 1e-4,
        epochs,
        warmup_epochs: 0.0,
        micro_batch: micro,
        global_batch: global,
        weight_decay: 0.0,
        noise_std: 0.0,
        seed: 9,
        checkpoint_every: 1000,
        keep_checkpoints: 0,
        log_every: 1,
        ..TrainConfig::default()
    }
}

fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Metrics without the wall-clock fields.
fn timeless(recs: &[Value]) -> Vec<Value> {
    recs.iter()
        .map(|r| {
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            o.remove("samples_per_s");
            o.remove("elapsed_s");
            r
        })
        .collect()
}

fn weights(m: &Lin<AD>) -> (Vec<f32>, Vec<f32>) {
    let w = m.linear.weight.val().into_data().to_vec::<f32>().unwrap();
    let b = m.linear.bias.as_ref().unwrap().val().into_data().to_vec::<f32>().unwrap();
    (w, b)
}

fn run(data: &LinearData, c: &TrainConfig, dir: &Path, control: RunControl) -> Result<physrep_train::TrainOutcome<Lin<AD>>, TrainError> {
    train::<AD, _>(&Toy { nan_at_micro: None }, data, c, dir, &control, &Default::default())
}

#[test]
fn loop_optimises_logs_schedule_and_collapse_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let data = LinearData::new(64, 16, 4, 9);
    let c = cfg(4, 8, 15);
    let out = run(&data, &c, tmp.path(), RunControl::default()).unwrap();
    assert!(out.finished);
    assert_eq!(out.state.update, 15 * 8);
    let recs = records(tmp.path());
    let train: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "train").collect();
    let valid: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "valid").collect();
    assert_eq!((train.len(), valid.len()), (120, 15));
    let sched = LrSchedule::new(c.lr, c.min_lr, c.epochs, 8, c.warmup_epochs, None);
    for (k, r) in train.iter().enumerate() {
        assert_eq!(r["update"], k as u64 + 1);
        let lr = r["lr"].as_f64().unwrap();
        assert!((lr - sched.lr_at(k as u64)).abs() <= 1e-15 * lr.abs().max(1e-300), "update {k} uses lr_k");
        for key in ["loss", "mae", "grad_norm", "emb_std_mean", "emb_std_min", "emb_eff_rank", "samples_per_s"] {
            assert!(r[key].as_f64().unwrap().is_finite(), "{key} in {r}");
        }
    }
    let first = train[0]["loss"].as_f64().unwrap();
    let last = train.last().unwrap()["loss"].as_f64().unwrap();
    assert!(last < 1e-2 * first, "loss {first} → {last}");
    let v0 = valid[0]["loss"].as_f64().unwrap();
    let v1 = valid.last().unwrap()["loss"].as_f64().unwrap();
    assert!(v1 < 0.05 * v0 && out.last_valid_loss == Some(v1), "valid {v0} → {v1}");
    // Predictions of a fitted 2-output regressor span two directions.
    let rank = valid.last().unwrap()["emb_eff_rank"].as_f64().unwrap();
    assert!(rank > 1.2 && rank <= 2.0, "effective rank {rank}");
    // The final checkpoint exists and records the position.
    let ck = physrep_train::Checkpoint::latest(&tmp.path().join("checkpoints")).unwrap().unwrap();
    assert_eq!(ck.state().unwrap().update, 120);
}

#[test]
fn accumulation_two_by_b_equals_one_by_two_b() {
    let data2 = LinearData::new(32, 8, 2, 9);
    let data4 = LinearData::new(32, 8, 4, 9);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let accum2 = run(&data2, &cfg(2, 4, 3), a.path(), RunControl::default()).unwrap();
    let accum1 = run(&data4, &cfg(4, 4, 3), b.path(), RunControl::default()).unwrap();
    assert_eq!(accum2.state.update, 24);
    assert_eq!(accum1.state.update, 24);
    let (wa, ba) = weights(&accum2.model);
    let (wb, bb) = weights(&accum1.model);
    for (x, y) in wa.iter().chain(&ba).zip(wb.iter().chain(&bb)) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
    }
    // Same gradient norms update by update (the losses are the same averages).
    let (ra, rb) = (records(a.path()), records(b.path()));
    for (x, y) in ra.iter().zip(&rb).filter(|(x, _)| x["kind"] == "train") {
        let (gx, gy) = (x["grad_norm"].as_f64().unwrap(), y["grad_norm"].as_f64().unwrap());
        assert!((gx - gy).abs() <= 1e-5 * gy.max(1e-3), "grad norm {gx} vs {gy}");
    }
    // And a different accumulation really gives a different trajectory (the check can fail).
    let c = tempfile::tempdir().unwrap();
    let other = run(&data2, &cfg(2, 2, 3), c.path(), RunControl::default()).unwrap();
    assert_ne!(weights(&other.model).0, wa);
}

#[test]
fn leftover_micro_batches_are_dropped_at_epoch_end() {
    // 10 micro-batches per epoch, accumulation 4: 2 updates per epoch, 2 micro-batches dropped.
    let data = LinearData::new(20, 4, 2, 9);
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&data, &cfg(2, 8, 3), tmp.path(), RunControl::default()).unwrap();
    assert_eq!((out.state.update, out.state.micro), (6, 24));
    assert_eq!(out.schedule.total, 6);
}

#[test]
fn max_updates_caps_the_schedule() {
    let data = LinearData::new(32, 4, 2, 9);
    let tmp = tempfile::tempdir().unwrap();
    let c = TrainConfig { max_updates: Some(5), ..cfg(2, 4, 10) };
    let out = run(&data, &c, tmp.path(), RunControl::default()).unwrap();
    assert!(out.finished);
    assert_eq!((out.state.update, out.schedule.total), (5, 5));
    let recs = records(tmp.path());
    let last_train = recs.iter().rfind(|r| r["kind"] == "train").unwrap();
    assert!((last_train["lr"].as_f64().unwrap() - c.min_lr).abs() < 1e-18, "cosine ends at min_lr on the capped total");
    assert_eq!(recs.last().unwrap()["kind"], "valid", "a final validation pass after a capped run");
}

#[test]
fn non_finite_loss_is_an_error_naming_the_step() {
    let data = LinearData::new(32, 4, 2, 9);
    let tmp = tempfile::tempdir().unwrap();
    let err = train::<AD, _>(&Toy { nan_at_micro: Some(5) }, &data, &cfg(2, 4, 2), tmp.path(), &RunControl::default(), &Default::default())
        .err()
        .expect("NaN must stop training");
    let msg = err.to_string();
    assert!(matches!(err, TrainError::NonFinite { update: 2, micro: 5, .. }), "{msg}");
    assert!(msg.contains("loss") && msg.contains("update 2") && msg.contains("micro-batch 5"), "{msg}");
}

#[test]
fn resume_after_interruptions_is_bit_identical() {
    // 16 micro-batches of 2 per epoch, accumulation 2 → 8 updates per epoch, 2 epochs = 16 updates.
    let data = LinearData::new(32, 6, 2, 9);
    let c = TrainConfig { checkpoint_every: 4, keep_checkpoints: 2, warmup_epochs: 0.5, ..cfg(2, 4, 2) };
    let full_dir = tempfile::tempdir().unwrap();
    let full = run(&data, &c, full_dir.path(), RunControl::default()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    // Stopped after update 10: a stop always checkpoints. Deleting that checkpoint leaves the run as a
    // kill after update 10 would (last checkpoint 8 = the end of epoch 0, before its validation pass).
    // Then stopped after update 13 (resumed from its own checkpoint), then run to the end.
    let part = run(&data, &c, dir.path(), RunControl { stop_after: Some(10), ..Default::default() }).unwrap();
    assert!(!part.finished);
    assert_eq!(records(dir.path()).iter().filter(|r| r["kind"] == "train").count(), 10);
    let stop = dir.path().join("checkpoints/update-00000010");
    assert!(stop.is_dir());
    std::fs::remove_dir_all(&stop).unwrap();
    let part = run(&data, &c, dir.path(), RunControl { resume: true, stop_after: Some(13), ..Default::default() }).unwrap();
    assert_eq!(part.state.update, 13);
    let resumed = run(&data, &c, dir.path(), RunControl { resume: true, ..Default::default() }).unwrap();
    assert!(resumed.finished);
    let pos = |s: &physrep_train::LoopState| (s.epoch, s.batch, s.update, s.micro);
    assert_eq!(pos(&resumed.state), pos(&full.state));
    assert_eq!(weights(&resumed.model), weights(&full.model), "weights must match bit for bit");
    assert_eq!(timeless(&records(dir.path())), timeless(&records(full_dir.path())), "metrics must match");
    // keep_checkpoints = 2 pruned the older ones.
    let kept = physrep_train::Checkpoint::list(&dir.path().join("checkpoints")).unwrap();
    let names: Vec<String> = kept.iter().map(|k| k.dir.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["update-00000013", "update-00000016"]);

    // Without --resume the directory starts over and gives the same result again.
    let again = run(&data, &c, dir.path(), RunControl::default()).unwrap();
    assert_eq!(weights(&again.model), weights(&full.model));
}
