//! Shared test helpers: the fixtures directory and temporary directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `<repo>/../shared/fixtures/well`; panics with a clear message when missing (CI always has it).
pub fn fixtures() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let dir = shared.join("fixtures/well");
    assert!(
        dir.is_dir(),
        "fixtures not found at {} — the shared folder (../shared relative to the repository root) is required",
        dir.display()
    );
    dir
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Copies a fixture dataset directory (recursively) into `dst`.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let to = dst.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            std::fs::copy(&p, &to).unwrap();
        }
    }
}
