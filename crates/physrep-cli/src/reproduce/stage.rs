//! Cached, resumable pipeline stages.
//!
//! A stage is a directory holding `stage.json` (its name, the SHA-256 of its resolved config,
//! status, wall time, peak memory) and `output.json` (what it returned). A stage whose record says
//! `done` with the same config hash is skipped and its stored output returned; anything else runs
//! again (the stage's own work — simulation files, checkpoints — resumes where it stopped).
//!
//! The key is the resolved config, not the code: a code change that moves a stage's results must change
//! its config too (the probe stage's `recipe` number), or a cached study would keep the older numbers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What `stage.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageRecord {
    pub name: String,
    pub config_hash: String,
    pub done: bool,
    /// Wall time of the run that completed the stage (seconds); 0 for a skipped stage's new record.
    pub wall_s: f64,
    /// Peak resident memory during the stage (MiB), from the kernel's high-water mark.
    pub peak_rss_mb: f64,
}

/// SHA-256 (hex) of a config's canonical JSON.
pub fn config_hash(config: &impl Serialize) -> Result<String> {
    let json = serde_json::to_vec(config).context("serialising a stage config")?;
    Ok(hex(&Sha256::digest(&json)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `bytes` to `path` atomically (the one implementation: synced temporary file, rename).
pub use physrep_core::write_atomic;

/// The outcome of [`run`]: the stage's output and its record; `skipped` when it came from the cache.
pub struct StageOutcome<T> {
    pub output: T,
    pub record: StageRecord,
    pub skipped: bool,
}

/// Run (or reuse) the stage `name` in `dir` with the given resolved `config`.
///
/// `work` receives the stage directory and returns the stage output, which is stored as JSON.
pub fn run<C, T, F>(dir: &Path, name: &str, config: &C, work: F) -> Result<StageOutcome<T>>
where
    C: Serialize,
    T: Serialize + DeserializeOwned,
    F: FnOnce(&Path) -> Result<T>,
{
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let hash = config_hash(config)?;
    let record_path = dir.join("stage.json");
    let output_path = dir.join("output.json");
    if let Some(record) = read_record(&record_path)? {
        if record.done && record.config_hash == hash && output_path.exists() {
            let text = std::fs::read_to_string(&output_path).with_context(|| format!("reading {}", output_path.display()))?;
            let output =
                serde_json::from_str(&text).with_context(|| format!("parsing {} (delete it to rerun the stage)", output_path.display()))?;
            return Ok(StageOutcome { output, record, skipped: true });
        }
    }
    write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(config)?)?;
    let mut record = StageRecord { name: name.to_string(), config_hash: hash, done: false, wall_s: 0.0, peak_rss_mb: 0.0 };
    write_atomic(&record_path, &serde_json::to_vec_pretty(&record)?)?;
    reset_peak_rss();
    let start = Instant::now();
    let output = work(dir).with_context(|| format!("stage {name} ({})", dir.display()))?;
    record.wall_s = start.elapsed().as_secs_f64();
    record.peak_rss_mb = peak_rss_mb();
    record.done = true;
    write_atomic(&output_path, &serde_json::to_vec_pretty(&output)?)?;
    write_atomic(&record_path, &serde_json::to_vec_pretty(&record)?)?;
    Ok(StageOutcome { output, record, skipped: false })
}

fn read_record(path: &PathBuf) -> Result<Option<StageRecord>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Reset the kernel's peak-RSS high-water mark for this process (Linux; a no-op elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process in MiB (VmHWM), 0 where unavailable.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_done_stage_with_the_same_config_is_skipped_and_a_changed_one_reruns() {
        let dir = std::env::temp_dir().join(format!("physrep-stage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut runs = 0;
        let a = run(&dir, "s", &("cfg", 1), |_| {
            runs += 1;
            Ok(41 + runs)
        })
        .unwrap();
        assert!(!a.skipped);
        assert_eq!(a.output, 42);
        let b = run(&dir, "s", &("cfg", 1), |_| -> Result<i32> { panic!("must be cached") }).unwrap();
        assert!(b.skipped);
        assert_eq!(b.output, 42);
        let c = run(&dir, "s", &("cfg", 2), |_| Ok(7)).unwrap();
        assert!(!c.skipped);
        assert_eq!(c.output, 7);
        // An interrupted stage (record written, not done) runs again.
        let rec =
            StageRecord { name: "s".into(), config_hash: config_hash(&("cfg", 2)).unwrap(), done: false, wall_s: 0.0, peak_rss_mb: 0.0 };
        write_atomic(&dir.join("stage.json"), &serde_json::to_vec(&rec).unwrap()).unwrap();
        let d = run(&dir, "s", &("cfg", 2), |_| Ok(8)).unwrap();
        assert!(!d.skipped);
        assert_eq!(d.output, 8);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
