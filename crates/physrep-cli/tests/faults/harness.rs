//! The fault suite's machinery: the shared artefacts (`Ctx`), a case's scratch directory (`Scratch`),
//! the case table entry (`Case`, `Expect`), running the binary with a timeout, and the invariants
//! checked after every command (no panic, `error:` line, unchanged inputs, no `.tmp` leftovers).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fixture root: The Well-layout datasets next to the repository.
pub fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/well");
    assert!(p.exists(), "fixtures not found at {} (CI provides ../shared next to the repository)", p.display());
    p
}

/// Overrides of every tiny pretrain run here: 12 AM train windows, micro-batch 4, 6 updates, a
/// checkpoint every 2.
pub const TINY: &str = "--preset tiny --quiet train.epochs=2 train.max_updates=6 train.micro_batch=4 \
train.global_batch=4 train.checkpoint_every=2 train.max_valid_batches=1 method.vicreg.allow_rank_deficient=true";
/// A cheap linear probe.
pub const PROBE: &str = "--probe linear --fractions 1 --epochs 1 --no-plots";

/// Splits a command line on whitespace (no argument here holds a space).
pub fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

/// Runs `physrep` in `cwd` with `args`, killed after `timeout`. `None`: it hung.
pub fn physrep_in(cwd: &Path, args: &[String], timeout: Duration) -> Option<Output> {
    let child = spawn_in(cwd, args, Stdio::piped());
    wait_timeout(child, timeout)
}

/// Held shared while a child is forked, exclusively while a test edits an HDF5 file: HDF5 opens
/// files without close-on-exec and locks them, so a child forked meanwhile would inherit the
/// descriptor and hold the lock while it runs.
pub static FORK_GUARD: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Starts `physrep` in `cwd` (stdout/stderr piped), one thread for the global pool.
pub fn spawn_in(cwd: &Path, args: &[String], out: Stdio) -> std::process::Child {
    let _guard = FORK_GUARD.read().unwrap_or_else(|e| e.into_inner());
    Command::new(env!("CARGO_BIN_EXE_physrep"))
        .args(args)
        .current_dir(cwd)
        .env("RAYON_NUM_THREADS", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("physrep starts")
}

/// Waits for `child`, reading its pipes; kills it after `timeout` (`None`).
pub fn wait_timeout(mut child: std::process::Child, timeout: Duration) -> Option<Output> {
    let start = Instant::now();
    let pipe = |p: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let so = pipe(child.stdout.take().map(|p| Box::new(p) as _));
    let se = pipe(child.stderr.take().map(|p| Box::new(p) as _));
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(Output { status, stdout: so.join().unwrap(), stderr: se.join().unwrap() });
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Copies a directory tree (files and symlinks as they are).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&src, &dst);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

/// The artefacts shared by all cases, made once: in `root`, `am`, `sf`, `rb`, `dummy` (fixture
/// copies), `run` (a finished tiny AM JEPA run of 6 updates, probed linearly into `run/probe`),
/// `part` (the same run stopped after 4 updates), `rbrun` (a tiny RB run) and `sim` (a simulated tiny
/// shear_flow dataset root).
pub struct Ctx {
    pub root: PathBuf,
}

impl Ctx {
    pub fn build() -> Self {
        let root = std::env::temp_dir().join(format!("physrep-faults-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let fx = fixtures();
        for (name, dir) in [("active_matter", "am"), ("shear_flow", "sf"), ("rayleigh_benard", "rb"), ("dummy_dataset", "dummy")] {
            copy_tree(&fx.join(name), &root.join(dir));
        }
        let must = |line: String| {
            let out = physrep_in(&root, &argv(&line), Duration::from_secs(300)).expect("setup command hung");
            assert!(out.status.success(), "setup `physrep {line}` failed:\n{}", String::from_utf8_lossy(&out.stderr));
        };
        must(format!("pretrain --method jepa --data am --out run {TINY}"));
        must(format!("probe --run run --data am {PROBE}"));
        must(format!("pretrain --method jepa --data am --out part {TINY} --stop-after 4"));
        must(
            "pretrain --method jepa --data rb --out rbrun --preset tiny --quiet train.epochs=1 train.max_updates=1 \
              train.micro_batch=2 train.global_batch=2 train.max_valid_batches=1 method.vicreg.allow_rank_deficient=true"
                .to_string(),
        );
        must("simulate shear_flow --out sim --preset tiny".to_string());
        Self { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One case's scratch directory (removed when the case passes).
pub struct Scratch {
    pub dir: PathBuf,
    pub ctx: Arc<Ctx>,
}

impl Scratch {
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
    /// Copies a shared artefact (`am`, `sf`, `rb`, `dummy`, `run`, `part`, `rbrun`, `sim`) to `as_`.
    pub fn take(&self, what: &str, as_: &str) {
        copy_tree(&self.ctx.path(what), &self.p(as_));
    }
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }
    pub fn rm(&self, rel: &str) {
        let p = self.p(rel);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap_or_else(|e| panic!("rm {}: {e}", p.display()));
        }
    }
    pub fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.p(rel)).unwrap();
    }
    /// Empties a directory (keeps it).
    pub fn empty_dir(&self, rel: &str) {
        self.rm(rel);
        self.mkdir(rel);
    }
    pub fn symlink(&self, target: &str, link: &str) {
        std::os::unix::fs::symlink(target, self.p(link)).unwrap();
    }
    /// Truncates a file to `frac` of its length.
    pub fn truncate(&self, rel: &str, frac: f64) {
        let p = self.p(rel);
        let len = std::fs::metadata(&p).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len((len as f64 * frac) as u64).unwrap();
    }
    /// Replaces a text file's content by `f(content)`.
    pub fn edit(&self, rel: &str, f: impl Fn(&str) -> String) {
        let p = self.p(rel);
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, f(&s)).unwrap();
    }
    /// The first file (sorted) in a folder.
    pub fn first_file(&self, rel: &str) -> String {
        let mut names: Vec<String> =
            std::fs::read_dir(self.p(rel)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        format!("{rel}/{}", names[0])
    }
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.p(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }
}

pub type Setup = Box<dyn Fn(&Scratch) + Send + Sync>;
pub type Check = Box<dyn Fn(&Scratch, &Output) -> Result<(), String> + Send + Sync>;
pub type Proc = Box<dyn Fn(&Scratch) -> Result<(), Fault> + Send + Sync>;

/// What a command must do.
pub enum Expect {
    /// Exit with one of `exit`, stderr holding every needle (case-insensitive; `a|b` = either) and none
    /// of `lacks`; the paths in `absent` must not exist afterwards.
    Fails { exit: &'static [i32], needles: &'static [&'static str], lacks: &'static [&'static str], absent: &'static [&'static str] },
    /// Exit 0, stderr holding every needle, then `check`.
    Succeeds { needles: &'static [&'static str], check: Option<Check> },
}

pub enum Body {
    Cmd { args: Vec<String>, expect: Expect, timeout: Duration },
    Proc(Proc),
}

/// One entry of the table.
pub struct Case {
    pub name: &'static str,
    pub setup: Setup,
    pub body: Body,
    /// Paths (relative to the scratch dir; a folder covers everything below it) the case may change.
    pub may_change: Vec<&'static str>,
}

/// Exit 1: a runtime error; 2: clap's argument errors; either: a value checked by either layer.
pub const E1: &[i32] = &[1];
pub const E2: &[i32] = &[2];
pub const E12: &[i32] = &[1, 2];

/// A case that must fail: `fails(name, "cmd args", exit, needles)`.
pub fn fails(name: &'static str, line: &str, exit: &'static [i32], needles: &'static [&'static str]) -> Case {
    Case {
        name,
        setup: Box::new(|_| {}),
        body: Body::Cmd {
            args: argv(line),
            expect: Expect::Fails { exit, needles, lacks: &[], absent: &[] },
            timeout: Duration::from_secs(60),
        },
        may_change: Vec::new(),
    }
}

/// A case that must succeed.
pub fn succeeds(name: &'static str, line: &str, needles: &'static [&'static str]) -> Case {
    Case {
        name,
        setup: Box::new(|_| {}),
        body: Body::Cmd { args: argv(line), expect: Expect::Succeeds { needles, check: None }, timeout: Duration::from_secs(120) },
        may_change: Vec::new(),
    }
}

/// A procedure: several commands, its own checks.
pub fn procedure(name: &'static str, f: impl Fn(&Scratch) -> Result<(), Fault> + Send + Sync + 'static) -> Case {
    Case { name, setup: Box::new(|_| {}), body: Body::Proc(Box::new(f)), may_change: vec![""] }
}

impl Case {
    pub fn setup(mut self, f: impl Fn(&Scratch) + Send + Sync + 'static) -> Self {
        self.setup = Box::new(f);
        self
    }
    pub fn may_change(mut self, paths: &[&'static str]) -> Self {
        self.may_change.extend_from_slice(paths);
        self
    }
    pub fn lacks(mut self, l: &'static [&'static str]) -> Self {
        if let Body::Cmd { expect: Expect::Fails { lacks, .. }, .. } = &mut self.body {
            *lacks = l;
        }
        self
    }
    pub fn absent(mut self, a: &'static [&'static str]) -> Self {
        if let Body::Cmd { expect: Expect::Fails { absent, .. }, .. } = &mut self.body {
            *absent = a;
        }
        self
    }
    pub fn check(mut self, f: impl Fn(&Scratch, &Output) -> Result<(), String> + Send + Sync + 'static) -> Self {
        if let Body::Cmd { expect: Expect::Succeeds { check, .. }, .. } = &mut self.body {
            *check = Some(Box::new(f));
        }
        self
    }
    pub fn timeout(mut self, secs: u64) -> Self {
        if let Body::Cmd { timeout, .. } = &mut self.body {
            *timeout = Duration::from_secs(secs);
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Panic,
    Signal,
    Hang,
    Silent,
    WrongExit,
    Message,
    NoErrorLine,
    FileChanged,
    LeftoverTmp,
    UnexpectedFailure,
    WrongResult,
    Harness,
}

impl FaultKind {
    pub const ALL: [FaultKind; 12] = [
        Self::Panic,
        Self::Signal,
        Self::Hang,
        Self::Silent,
        Self::WrongExit,
        Self::Message,
        Self::NoErrorLine,
        Self::FileChanged,
        Self::LeftoverTmp,
        Self::UnexpectedFailure,
        Self::WrongResult,
        Self::Harness,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Self::Panic => "panics",
            Self::Signal => "signals",
            Self::Hang => "hangs",
            Self::Silent => "silent wrong results",
            Self::WrongExit => "wrong exit codes",
            Self::Message => "messages lacking",
            Self::NoErrorLine => "no error line",
            Self::FileChanged => "files changed",
            Self::LeftoverTmp => "leftover tmp",
            Self::UnexpectedFailure => "unexpected failures",
            Self::WrongResult => "wrong results",
            Self::Harness => "harness errors",
        }
    }
}

#[derive(Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub why: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind.label(), self.why)
    }
}

pub fn fault(kind: FaultKind, why: impl Into<String>) -> Fault {
    Fault { kind, why: why.into() }
}

/// The first lines of a stderr, for messages.
pub fn brief(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).take(4).collect();
    let mut t = lines.join(" ⏎ ");
    if t.len() > 400 {
        let mut cut = 400;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push('…');
    }
    format!("stderr: {t:?}")
}

/// Does `hay` hold the needle (case-insensitive; `a|b` = either)?
pub fn holds(hay: &str, needle: &str) -> bool {
    let hay = hay.to_lowercase();
    needle.split('|').any(|n| hay.contains(&n.to_lowercase()))
}

/// Panic, signal or missing `error:` line: the invariants of every failing command.
pub fn check_exit_invariants(out: &Output) -> Result<(), Fault> {
    let err = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if code == Some(101) || err.contains("panicked at") || err.contains("RUST_BACKTRACE") {
        return Err(fault(FaultKind::Panic, format!("exit {code:?}, {}", brief(&out.stderr))));
    }
    let Some(code) = code else {
        return Err(fault(FaultKind::Signal, format!("killed by a signal ({:?}), {}", out.status, brief(&out.stderr))));
    };
    if code != 0 && !err.lines().any(|l| l.starts_with("error:")) {
        return Err(fault(FaultKind::NoErrorLine, format!("exit {code} without an `error:` line, {}", brief(&out.stderr))));
    }
    Ok(())
}

/// A failing command's expectations.
pub fn check_fails(out: &Output, exit: &[i32], needles: &[&str], lacks: &[&str]) -> Result<(), Fault> {
    check_exit_invariants(out)?;
    let code = out.status.code().unwrap();
    if code == 0 {
        return Err(fault(FaultKind::Silent, format!("exit 0, expected a failure naming {needles:?}; stdout: {:?}", tail(&out.stdout))));
    }
    if !exit.contains(&code) {
        return Err(fault(FaultKind::WrongExit, format!("exit {code}, expected {exit:?}, {}", brief(&out.stderr))));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let missing: Vec<&&str> = needles.iter().filter(|n| !holds(&err, n)).collect();
    if !missing.is_empty() {
        return Err(fault(FaultKind::Message, format!("message lacks {missing:?}, {}", brief(&out.stderr))));
    }
    let present: Vec<&&str> = lacks.iter().filter(|n| holds(&err, n)).collect();
    if !present.is_empty() {
        return Err(fault(FaultKind::Message, format!("message must not hold {present:?}, {}", brief(&out.stderr))));
    }
    Ok(())
}

/// A succeeding command's expectations.
pub fn check_succeeds(out: &Output, needles: &[&str]) -> Result<(), Fault> {
    check_exit_invariants(out)?;
    if !out.status.success() {
        return Err(fault(FaultKind::UnexpectedFailure, format!("exit {:?}, expected success, {}", out.status.code(), brief(&out.stderr))));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let missing: Vec<&&str> = needles.iter().filter(|n| !holds(&err, n)).collect();
    if !missing.is_empty() {
        return Err(fault(FaultKind::Message, format!("stderr lacks {missing:?}, {}", brief(&out.stderr))));
    }
    Ok(())
}

fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let n = s.chars().count();
    s.chars().skip(n.saturating_sub(200)).collect()
}

/// Every file (bytes) and symlink (target) under `dir`, by relative path; symlinks are not followed.
/// Lock files (`.physrep*.lock`, holding the PID of their last holder) are bookkeeping, not data, and
/// are left out.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".physrep") && name.ends_with(".lock") {
                continue;
            }
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                out.insert(rel, format!("symlink -> {t}").into_bytes());
            } else if ft.is_dir() {
                walk(base, &p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.insert(rel, b);
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

fn covered(rel: &str, may_change: &[&str]) -> bool {
    may_change.iter().any(|m| m.is_empty() || rel == *m || rel.starts_with(&format!("{m}/")))
}

/// Inputs unchanged, no `.tmp` leftovers.
pub fn check_files(dir: &Path, before: &BTreeMap<String, Vec<u8>>, may_change: &[&str]) -> Result<(), Fault> {
    let after = snapshot(dir);
    let changed: Vec<&String> =
        before.iter().filter(|(k, v)| !covered(k, may_change) && after.get(*k) != Some(*v)).map(|(k, _)| k).collect();
    if !changed.is_empty() {
        let what: Vec<String> =
            changed.iter().map(|k| format!("{k} ({})", if after.contains_key(*k) { "modified" } else { "deleted" })).collect();
        return Err(fault(FaultKind::FileChanged, format!("inputs changed: {}", what.join(", "))));
    }
    leftover_tmp(dir)
}

/// Any name containing `.tmp` under `dir`.
pub fn leftover_tmp(dir: &Path) -> Result<(), Fault> {
    let after = snapshot(dir);
    let tmp: Vec<&String> =
        after.keys().filter(|k| Path::new(k).file_name().is_some_and(|n| n.to_string_lossy().contains(".tmp"))).collect();
    if !tmp.is_empty() {
        return Err(fault(FaultKind::LeftoverTmp, format!("temporary files left: {tmp:?}")));
    }
    Ok(())
}

/// Runs one case in its own scratch dir (kept on failure for inspection).
pub fn run_case(ctx: &Arc<Ctx>, index: usize, case: &Case) -> Result<(), Fault> {
    let dir = ctx.root.join("cases").join(format!("{index:03}-{}", case.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let s = Scratch { dir: dir.clone(), ctx: ctx.clone() };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), Fault> {
        (case.setup)(&s);
        let before = snapshot(&dir);
        match &case.body {
            Body::Proc(f) => {
                f(&s)?;
                leftover_tmp(&dir)
            }
            Body::Cmd { args, expect, timeout } => {
                let Some(out) = physrep_in(&dir, args, *timeout) else {
                    return Err(fault(FaultKind::Hang, format!("no exit within {} s", timeout.as_secs())));
                };
                match expect {
                    Expect::Fails { exit, needles, lacks, absent } => {
                        check_fails(&out, exit, needles, lacks)?;
                        check_files(&dir, &before, &case.may_change)?;
                        let present: Vec<&&str> = absent.iter().filter(|a| s.p(a).exists()).collect();
                        if !present.is_empty() {
                            return Err(fault(FaultKind::WrongResult, format!("wrote {present:?} although it failed")));
                        }
                    }
                    Expect::Succeeds { needles, check } => {
                        check_succeeds(&out, needles)?;
                        check_files(&dir, &before, &case.may_change)?;
                        if let Some(c) = check {
                            c(&s, &out).map_err(|w| fault(FaultKind::WrongResult, w))?;
                        }
                    }
                }
                Ok(())
            }
        }
    }));
    let r = match r {
        Ok(r) => r,
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(fault(FaultKind::Harness, format!("harness panicked: {}", msg.unwrap_or_default())))
        }
    };
    if r.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    r
}
