//! Files that exist are complete: every physrep writer writes to a temporary name in the target's
//! directory and renames it into place (a rename within a directory is atomic on POSIX file
//! systems), so a kill at any moment leaves either the old file or the new one, never half of one.
//!
//! Temporary names are `.NAME.tmp-PID`: hidden (dataset listings skip them), next to the target (same
//! file system, so the rename is atomic) and owned by a process, so a later run can tell a killed
//! writer's leftovers ([`remove_stale_temps`]) from a live writer's file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::FsError;

/// The temporary name of `path` for this process: `DIR/.NAME.tmp-PID`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `bytes` to `path` atomically: parent directories created, a synced temporary file
/// ([`temp_path`]) renamed into place. On failure the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| FsError::io(parent, e))?;
    }
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(FsError::io(&tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        FsError::io(path, e)
    })
}

/// Remove the temporary files ([`temp_path`] names) in `dir` whose writing process no longer runs:
/// what a killed writer left. Files of a live process (a concurrent writer) are kept. Returns the
/// paths removed; a missing `dir` has none.
pub fn remove_stale_temps(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(FsError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| FsError::io(dir, e))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else { continue };
        if pid != std::process::id() && !process_alive(pid) {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| FsError::io(&path, e))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

/// The PID of a temporary name `.NAME.tmp-PID`, if it is one.
fn temp_pid(name: &str) -> Option<u32> {
    let (head, pid) = name.rsplit_once(".tmp-")?;
    (name.starts_with('.') && head.len() > 1).then_some(())?;
    pid.parse().ok()
}

/// Whether a process with this PID exists (always true where that cannot be told).
pub fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("physrep-core-fs-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn atomic_writes_create_parents_replace_and_leave_no_temp() {
        let dir = scratch("atomic");
        let path = dir.join("a/b/result.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        assert_eq!(temp_path(&path).file_name().unwrap().to_str().unwrap(), format!(".result.json.tmp-{}", std::process::id()));
        // A target that is a directory: an error naming it, and no temporary file left.
        let err = write_atomic(&dir.join("a"), b"x").unwrap_err().to_string();
        assert!(err.contains(&dir.join("a").display().to_string()), "{err}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temps_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = scratch("temps");
        fs::create_dir_all(&dir).unwrap();
        // No process has PID 2^32 - 2 (Linux caps PIDs at 2^22); our own PID is alive.
        let dead = dir.join(".a.hdf5.tmp-4294967294");
        let live = dir.join(format!(".b.hdf5.tmp-{}", std::process::id()));
        let other = dir.join("c.tmp-12");
        for p in [&dead, &live, &other] {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_temps(&dir).unwrap(), vec![dead.clone()]);
        assert!(!dead.exists() && live.exists() && other.exists());
        assert_eq!(temp_pid(".stats.yaml.tmp-77"), Some(77));
        assert_eq!(temp_pid(".tmp-77"), None);
        assert!(remove_stale_temps(&dir.join("missing")).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
