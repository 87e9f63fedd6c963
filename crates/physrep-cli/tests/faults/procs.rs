//! Faults that are not one command: two writers on one directory (the second must stop with
//! `locked` and the holder's pid, the first's outputs stay whole), SIGKILL then rerun (outputs
//! byte-identical to an uninterrupted run, no `.tmp` left), `--stop-after` between checkpoints, and
//! a failed first run that must not block a correct rerun.

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{
    argv, check_fails, check_succeeds, fault, leftover_tmp, physrep_in, procedure, snapshot, spawn_in, wait_timeout, Case, Fault,
    FaultKind, Scratch, E1, PROBE, TINY,
};

fn run(s: &Scratch, line: &str, secs: u64) -> Result<Output, Fault> {
    physrep_in(&s.dir, &argv(line), Duration::from_secs(secs))
        .ok_or_else(|| fault(FaultKind::Hang, format!("`{line}` did not exit within {secs} s")))
}

fn must_succeed(s: &Scratch, line: &str, secs: u64) -> Result<Output, Fault> {
    let out = run(s, line, secs)?;
    check_succeeds(&out, &[]).map_err(|f| fault(f.kind, format!("`{line}`: {}", f.why)))?;
    Ok(out)
}

fn spawn(s: &Scratch, line: &str) -> Child {
    spawn_in(&s.dir, &argv(line), Stdio::null())
}

/// Polls `cond` every 20 ms for up to `secs`.
fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn harness(why: impl Into<String>) -> Fault {
    fault(FaultKind::Harness, why)
}

/// Train records of a metrics.jsonl without the timing fields; every line must parse.
fn records(path: &Path) -> Result<Vec<Value>, Fault> {
    let text = std::fs::read_to_string(path).map_err(|e| fault(FaultKind::WrongResult, format!("{}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let mut v: Value = serde_json::from_str(l)
                .map_err(|e| fault(FaultKind::WrongResult, format!("{} line {}: not JSON ({e}): {l:?}", path.display(), i + 1)))?;
            if let Some(o) = v.as_object_mut() {
                o.remove("samples_per_s");
                o.remove("elapsed_s");
            }
            Ok(v)
        })
        .collect()
}

/// Same final weights and metrics as the shared uninterrupted run.
fn same_as_reference(s: &Scratch, run_dir: &str) -> Result<(), Fault> {
    // model.mpk is not compared byte for byte: burn's record holds random parameter ids, so two
    // uninterrupted runs already differ there; the exported encoder and the metrics are deterministic.
    if !s.p(run_dir).join("DONE").exists() {
        return Err(fault(FaultKind::WrongResult, format!("{run_dir}/DONE missing after the rerun")));
    }
    for f in ["encoder.safetensors", "init-encoder.safetensors"] {
        let (a, b) = (std::fs::read(s.p(run_dir).join(f)).ok(), std::fs::read(s.ctx.path("run").join(f)).ok());
        if a.is_none() || a != b {
            return Err(fault(FaultKind::WrongResult, format!("{run_dir}/{f} differs from the uninterrupted run's (or is missing)")));
        }
    }
    if records(&s.p(run_dir).join("metrics.jsonl"))? != records(&s.ctx.path("run/metrics.jsonl"))? {
        return Err(fault(FaultKind::WrongResult, format!("{run_dir}/metrics.jsonl differs from the uninterrupted run's (timings aside)")));
    }
    Ok(())
}

/// While `first` runs (after `ready`), each of `seconds` must fail with `locked` and the holder's pid;
/// then `first` must finish (or be killed when `kill_first`) and `after` check its outputs.
fn two_writers(
    s: &Scratch,
    first: &str,
    ready: impl Fn() -> bool,
    seconds: &[String],
    kill_first: bool,
    after: impl Fn() -> Result<(), Fault>,
) -> Result<(), Fault> {
    let mut child = spawn(s, first);
    let pid = child.id().to_string();
    let started = wait_until(120, || ready() || child.try_wait().ok().flatten().is_some());
    if !started || child.try_wait().ok().flatten().is_some() {
        let _ = child.kill();
        return Err(harness(format!("first writer `{first}` ended before the second could start (make it longer)")));
    }
    let mut result = Ok(());
    for second in seconds {
        let out = run(s, second, 120)?;
        if let Err(f) = check_fails(&out, E1, &["locked", "pid", &pid], &[]) {
            result = Err(fault(f.kind, format!("second writer `{second}`: {}", f.why)));
            break;
        }
    }
    if kill_first {
        let _ = child.kill();
        let _ = child.wait();
    } else {
        let out = wait_timeout(child, Duration::from_secs(180)).ok_or_else(|| fault(FaultKind::Hang, "first writer did not finish"))?;
        if result.is_ok() {
            check_succeeds(&out, &[]).map_err(|f| fault(f.kind, format!("first writer: {}", f.why)))?;
        }
    }
    result?;
    after()
}

/// `RUN/checkpoints/update-0000000N` exists.
fn has_checkpoint(s: &Scratch, run_dir: &str, n: usize) -> bool {
    s.p(run_dir).join(format!("checkpoints/update-{n:08}")).is_dir()
}

pub fn all() -> Vec<Case> {
    let long_pretrain =
        "pretrain --method jepa --data am --out r --preset tiny --quiet train.epochs=8 train.max_updates=24 train.micro_batch=4 \
                         train.global_batch=4 train.checkpoint_every=4 train.max_valid_batches=1 method.vicreg.allow_rank_deficient=true";
    vec![
        procedure("lock_pretrain_second_writer", move |s| {
            s.take("am", "am");
            two_writers(
                s,
                long_pretrain,
                || s.p("r/metrics.jsonl").exists(),
                &[long_pretrain.to_string(), format!("{long_pretrain} --resume")],
                false,
                || {
                    let recs = records(&s.p("r/metrics.jsonl"))?;
                    let train = recs.iter().filter(|r| r["kind"] == "train").count();
                    (train == 24 && s.p("r/DONE").exists()).then_some(()).ok_or_else(|| {
                        fault(FaultKind::WrongResult, format!("first run: {train} train records of 24, DONE {}", s.p("r/DONE").exists()))
                    })
                },
            )
        }),
        procedure("lock_simulate_second_writer", |s| {
            let line = "simulate shear_flow --out o --preset small --params 0,1";
            two_writers(
                s,
                line,
                || s.p("o/shear_flow").exists(),
                &[line.to_string(), "simulate shear_flow --out o --preset small --params 2".into()],
                false,
                || Ok(()),
            )
        }),
        procedure("lock_probe_second_writer", |s| {
            s.take("am", "am");
            s.take("run", "run");
            let line = "probe --run run --data am --probe attentive --fractions 1 --epochs 400 --no-plots --out p";
            two_writers(
                s,
                line,
                || s.p("p").exists(),
                &[line.to_string(), format!("probe --run run --data am {PROBE} --out p")],
                false,
                || {
                    s.p("p/results.json")
                        .exists()
                        .then_some(())
                        .ok_or_else(|| fault(FaultKind::WrongResult, "first probe wrote no p/results.json"))
                },
            )
        }),
        procedure("lock_reproduce_second_writer", |s| {
            let line = "reproduce --preset smoke --out o";
            // The first writer is killed mid-simulation: its half-written files are the kill's, not the
            // second writer's (their cleanup on a rerun is kill_simulate_then_rerun_is_identical's case).
            two_writers(
                s,
                line,
                || s.p("o").exists(),
                &[line.to_string()],
                true,
                || std::fs::remove_dir_all(s.p("o")).map_err(|e| harness(format!("removing o: {e}"))),
            )
        }),
        procedure("kill_pretrain_then_resume_is_identical", |s| {
            s.take("am", "am");
            let line = format!("pretrain --method jepa --data am --out run {TINY}");
            let mut child = spawn(s, &line);
            let metrics = s.p("run/metrics.jsonl");
            let lines = || std::fs::read_to_string(&metrics).map(|t| t.lines().count()).unwrap_or(0);
            wait_until(60, || lines() >= 3 || child.try_wait().ok().flatten().is_some());
            let _ = child.kill();
            let _ = child.wait();
            must_succeed(s, &format!("{line} --resume"), 120)?;
            leftover_tmp(&s.dir)?;
            same_as_reference(s, "run")
        }),
        procedure("kill_simulate_then_rerun_is_identical", |s| {
            let line = |out: &str| format!("simulate shear_flow --out {out} --preset small --params 0,1");
            must_succeed(s, &line("ref"), 120)?;
            let mut child = spawn(s, &line("o"));
            let any_tmp = || snapshot(&s.p("o")).keys().any(|k| k.contains(".tmp"));
            wait_until(60, || any_tmp() || child.try_wait().ok().flatten().is_some());
            std::thread::sleep(Duration::from_millis(300));
            let _ = child.kill();
            let _ = child.wait();
            must_succeed(s, &line("o"), 120)?;
            leftover_tmp(&s.dir)?;
            (snapshot(&s.p("o")) == snapshot(&s.p("ref")))
                .then_some(())
                .ok_or_else(|| fault(FaultKind::WrongResult, "rerun after SIGKILL differs from an uninterrupted simulate"))
        }),
        procedure("pretrain_resume_rewrites_a_deleted_export", |s| {
            s.take("am", "am");
            s.take("run", "run");
            let export = s.p("run/encoder.safetensors");
            let before = std::fs::read(&export).map_err(|e| harness(format!("reading the export: {e}")))?;
            std::fs::remove_file(&export).map_err(|e| harness(format!("removing the export: {e}")))?;
            must_succeed(s, &format!("pretrain --method jepa --data am --out run {TINY} --resume"), 120)?;
            (std::fs::read(&export).ok() == Some(before))
                .then_some(())
                .ok_or_else(|| fault(FaultKind::WrongResult, "--resume of a finished run did not write the same encoder.safetensors again"))
        }),
        procedure("stop_after_between_checkpoints_then_resume", |s| {
            s.take("am", "am");
            let line = format!("pretrain --method jepa --data am --out run {TINY}");
            must_succeed(s, &format!("{line} --stop-after 3"), 120)?;
            if !has_checkpoint(s, "run", 3) {
                return Err(fault(
                    FaultKind::WrongResult,
                    "--stop-after 3 with checkpoint_every=2 left no run/checkpoints/update-00000003",
                ));
            }
            let out = must_succeed(s, &format!("{line} --resume"), 120)?;
            let err = String::from_utf8_lossy(&out.stderr);
            if !super::harness::holds(&err, "update-00000003|update 3") {
                return Err(fault(
                    FaultKind::Message,
                    format!("--resume does not say it continues from update 3, {}", super::harness::brief(&out.stderr)),
                ));
            }
            same_as_reference(s, "run")
        }),
        procedure("failed_run_bad_override_then_rerun", |s| {
            s.take("am", "am");
            let line = format!("pretrain --method jepa --data am --out r {TINY} --stop-after 1");
            let out = run(s, &format!("{line} train.lr=abc"), 60)?;
            check_fails(&out, E1, &["train.lr"], &[])?;
            must_succeed(s, &line, 120).map(|_| ())
        }),
        procedure("failed_run_invalid_config_then_rerun", |s| {
            s.take("am", "am");
            let base = "pretrain --method jepa --data am --out r --preset tiny --quiet --stop-after 1 train.epochs=1 train.micro_batch=2 train.global_batch=2";
            let out = run(s, base, 60)?;
            check_fails(&out, E1, &["vicreg"], &[])?;
            must_succeed(s, &format!("{base} method.vicreg.allow_rank_deficient=true"), 120).map(|_| ())
        }),
        procedure("failed_run_bad_data_then_rerun", |s| {
            s.take("am", "am");
            s.write("am/data/valid/x.hdf5", b"not hdf5");
            let line = format!("pretrain --method jepa --data am --out r {TINY} --stop-after 1");
            let out = run(s, &line, 60)?;
            check_fails(&out, E1, &["x.hdf5"], &[])?;
            s.rm("am/data/valid/x.hdf5");
            must_succeed(s, &line, 120).map(|_| ())
        }),
        procedure("failed_simulate_then_rerun", |s| {
            let out = run(s, "simulate shear_flow --out o --preset tiny --params 999", 60)?;
            check_fails(&out, &[1, 2], &["--params"], &[])?;
            must_succeed(s, "simulate shear_flow --out o --preset tiny", 60)?;
            (snapshot(&s.p("o")) == snapshot(&s.ctx.path("sim")))
                .then_some(())
                .ok_or_else(|| fault(FaultKind::WrongResult, "dataset after a failed first run differs from a clean one"))
        }),
        procedure("failed_probe_then_rerun", |s| {
            s.take("am", "am");
            s.take("run", "run");
            let line = format!("probe --run run --data am {PROBE} --out p");
            let out = run(s, &format!("{line} --fractions 0,2"), 60)?;
            check_fails(&out, &[1, 2], &["fraction"], &[])?;
            must_succeed(s, &line, 60).map(|_| ())
        }),
    ]
}
