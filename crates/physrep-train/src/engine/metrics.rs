//! What the engine records: running sums of losses and terms ([`Tally`]) and the append-only
//! `metrics.jsonl` ([`MetricsLog`]) whose byte length a checkpoint stores.

use std::fs;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::error::TrainError;
use crate::monitor::{collapse_stats, CollapseStats};

/// Rows of embeddings kept per update / per validation pass for collapse statistics.
pub const MAX_MONITOR_ROWS: usize = 4096;

/// Weighted running sums over micro-batches (of one update, one epoch or one validation pass).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    weight: f64,
    loss: f64,
    terms: Vec<(String, f64)>,
    rows: Vec<f32>,
    dim: usize,
}

impl Tally {
    /// Add one micro-batch's loss and terms with weight `w`, and up to [`MAX_MONITOR_ROWS`] embedding rows.
    pub fn add(&mut self, w: f64, loss: f64, terms: &[(String, f64)], emb: Option<&(Vec<f32>, usize)>) {
        self.weight += w;
        self.loss += w * loss;
        for (name, v) in terms {
            match self.terms.iter_mut().find(|(n, _)| n == name) {
                Some((_, acc)) => *acc += w * v,
                None => self.terms.push((name.clone(), w * v)),
            }
        }
        if let Some((rows, dim)) = emb {
            self.dim = *dim;
            let room = MAX_MONITOR_ROWS.saturating_sub(self.rows.len() / dim.max(&1)) * dim;
            self.rows.extend_from_slice(&rows[..rows.len().min(room)]);
        }
    }

    /// The weighted mean loss.
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.weight
    }

    /// Collapse statistics of the kept embedding rows (`None` without embeddings or with fewer than two rows).
    pub fn collapse(&self) -> Option<CollapseStats> {
        if self.dim == 0 {
            return None;
        }
        collapse_stats(&self.rows, self.rows.len() / self.dim, self.dim)
    }

    /// `loss`, every term and the collapse statistics into `rec`.
    pub fn write_into(&self, rec: &mut Map<String, Value>) {
        rec.insert("loss".into(), json!(self.mean_loss()));
        for (name, v) in &self.terms {
            rec.insert(name.clone(), json!(v / self.weight));
        }
        if let Some(c) = self.collapse() {
            rec.insert("emb_std_mean".into(), json!(c.std_mean));
            rec.insert("emb_std_min".into(), json!(c.std_min));
            rec.insert("emb_eff_rank".into(), json!(c.effective_rank));
        }
    }
}

/// Append-only JSONL writer that knows its byte length (stored in checkpoints).
pub struct MetricsLog {
    path: PathBuf,
    file: fs::File,
    len: u64,
}

impl MetricsLog {
    /// Open `path`, keeping only its first `keep` bytes (0 = start empty): lines written after the
    /// checkpoint a run resumes from are dropped, so a resumed log equals an uninterrupted one.
    pub fn open(path: &Path, keep: u64) -> Result<Self, TrainError> {
        let io = |e| TrainError::io(path, e);
        let mut file = fs::OpenOptions::new().create(true).read(true).write(true).truncate(false).open(path).map_err(io)?;
        let have = file.metadata().map_err(io)?.len();
        if have < keep {
            return Err(TrainError::Format {
                path: path.to_path_buf(),
                message: format!("has {have} bytes but the checkpoint recorded {keep}"),
            });
        }
        file.set_len(keep).map_err(io)?;
        file.seek(std::io::SeekFrom::Start(keep)).map_err(io)?;
        Ok(MetricsLog { path: path.to_path_buf(), file, len: keep })
    }

    /// Append one record as a line.
    pub fn write(&mut self, rec: &Map<String, Value>) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(rec).expect("a map of JSON values serialises");
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| TrainError::io(&self.path, e))?;
        self.file.flush().map_err(|e| TrainError::io(&self.path, e))?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True while nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
