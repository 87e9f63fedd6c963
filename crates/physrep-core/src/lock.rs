//! Exclusive (and shared) advisory locks on the directories physrep writes.
//!
//! Every command that writes a directory — a dataset root (`simulate`, `stats`), a run directory
//! (`pretrain`), a probe output (`probe`, `finetune`) or a study (`reproduce`) — holds a lock on it
//! for as long as it writes, so a second writer started by mistake stops at once with an error
//! naming the holder's PID instead of interleaving its writes with the first (two `pretrain
//! --resume` on one run used to corrupt `metrics.jsonl`).
//!
//! The lock is an OS advisory lock (`flock` on Unix, `LockFileEx` on Windows) on a file
//! `DIR/.physrep.lock`: the kernel drops it when the process exits or is killed, so a SIGKILL never
//! leaves a directory locked. The file stays behind (removing it would race with a waiting
//! writer); it holds the PID and command of the last exclusive holder, which is all the error
//! reports. Sharded `simulate` runs of one dataset take a *shared* lock on the dataset and an
//! exclusive one per shard (`.physrep-shard-I-of-N.lock`), so shards run side by side while any
//! exclusive writer of the whole dataset (an unsharded `simulate`, `stats`) is kept out.
//!
//! Locks are per open file: the same process taking the same directory twice conflicts with
//! itself, so nested stages lock distinct directories (the study its root, each run its own).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::fs::process_alive;
use crate::FsError;

/// The lock file of a directory.
pub const LOCK_FILE: &str = ".physrep.lock";

/// A held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
    /// The directory did not exist before this (exclusive) lock: removed again on drop if nothing
    /// but the lock file was written into it (a command that failed early leaves no empty directory).
    created: bool,
}

/// Shared or exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Shared,
    Exclusive,
}

impl DirLock {
    /// Lock `dir` (created if missing) for `command` alone, e.g. `DirLock::exclusive(run, "physrep pretrain")`.
    pub fn exclusive(dir: &Path, command: &str) -> Result<Self, FsError> {
        Self::acquire(dir, LOCK_FILE, Mode::Exclusive, command)
    }

    /// Lock `dir` (created if missing) shared with other shared holders, against exclusive ones.
    pub fn shared(dir: &Path, command: &str) -> Result<Self, FsError> {
        Self::acquire(dir, LOCK_FILE, Mode::Shared, command)
    }

    /// An exclusive lock on a named part of `dir` (lock file `.physrep-NAME.lock`), e.g. one shard.
    pub fn exclusive_part(dir: &Path, part: &str, command: &str) -> Result<Self, FsError> {
        Self::acquire(dir, &format!(".physrep-{part}.lock"), Mode::Exclusive, command)
    }

    /// The lock file held.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn acquire(dir: &Path, file_name: &str, mode: Mode, command: &str) -> Result<Self, FsError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| FsError::io(dir, e))?;
        let path = dir.join(file_name);
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| FsError::io(&path, e))?;
        let got = match mode {
            Mode::Exclusive => file.try_lock(),
            Mode::Shared => file.try_lock_shared(),
        };
        match got {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(FsError::Locked { dir: dir.to_path_buf(), holder: holders(dir) });
            }
            Err(TryLockError::Error(e)) => return Err(FsError::io(&path, e)),
        }
        if mode == Mode::Exclusive {
            // Only an exclusive holder may rewrite the note: shared holders would overwrite each other.
            let note = format!("pid {}, `{command}`\n", std::process::id());
            let write = |f: &mut File| -> std::io::Result<()> {
                f.set_len(0)?;
                f.seek(SeekFrom::Start(0))?;
                f.write_all(note.as_bytes())?;
                f.flush()
            };
            write(&mut file).map_err(|e| FsError::io(&path, e))?;
        }
        Ok(DirLock { _file: file, path, created: created && mode == Mode::Exclusive })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let only_the_lock = std::fs::read_dir(dir).is_ok_and(|entries| entries.count() == 1);
        if self.created && only_the_lock && std::fs::remove_file(&self.path).is_ok() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Who holds `dir`'s locks, as far as the lock files say: the notes of every `.physrep*.lock` whose
/// process still runs (a shared holder leaves no note of its own).
fn holders(dir: &Path) -> String {
    let mut notes = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(".physrep") && name.ends_with(".lock")) {
                continue;
            }
            let mut text = String::new();
            if File::open(entry.path()).and_then(|mut f| f.read_to_string(&mut text)).is_err() {
                continue;
            }
            let text = text.trim();
            let alive = text
                .strip_prefix("pid ")
                .and_then(|rest| rest.split(',').next())
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .is_some_and(process_alive);
            if alive {
                notes.push(text.to_string());
            }
        }
    }
    notes.sort();
    if notes.is_empty() {
        "another physrep process (pid not recorded)".into()
    } else {
        notes.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("physrep-lock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_second_exclusive_holder_is_refused_with_the_first_ones_pid() {
        let dir = scratch("excl");
        let held = DirLock::exclusive(&dir, "physrep pretrain").unwrap();
        let err = DirLock::exclusive(&dir, "physrep pretrain").unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())) && err.contains("physrep pretrain"), "{err}");
        assert!(err.contains("locked"), "{err}");
        assert!(DirLock::shared(&dir, "physrep simulate").is_err());
        drop(held);
        // Released on drop, and the directory it created for nothing is gone.
        assert!(!dir.exists());
        let again = DirLock::exclusive(&dir, "physrep pretrain").unwrap();
        std::fs::write(dir.join("config.toml"), b"x").unwrap();
        drop(again);
        assert!(dir.join("config.toml").exists() && dir.join(LOCK_FILE).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shared_holders_coexist_and_keep_exclusive_ones_out() {
        let dir = scratch("shared");
        let a = DirLock::shared(&dir, "physrep simulate --shard 0/2").unwrap();
        let b = DirLock::shared(&dir, "physrep simulate --shard 1/2").unwrap();
        let shard = DirLock::exclusive_part(&dir, "shard-0-of-2", "physrep simulate --shard 0/2").unwrap();
        assert!(DirLock::exclusive_part(&dir, "shard-0-of-2", "again").is_err());
        let err = DirLock::exclusive(&dir, "physrep stats").unwrap_err().to_string();
        // The shard's note names the live holder.
        assert!(err.contains("--shard 0/2"), "{err}");
        drop((a, b, shard));
        DirLock::exclusive(&dir, "physrep stats").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
