//! Every protocol fact the code cites resolves inside the repository: each `docs/NAME.md` named in the
//! sources, scripts and top-level markdown exists, and each `§N` cited right after it is a heading of
//! that file (`docs/CITATIONS.md` lists the citations; #19).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

/// Files under `dir` (recursively) ending in one of `exts`, `target/` and hidden directories skipped.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The section numbers of a markdown file's headings (`## 13. …`, `### 10.3 …`, `## §6.8 …`).
fn headings(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_start_matches('#');
            (rest.len() < l.len()).then_some(rest.trim().trim_start_matches('§'))
        })
        .filter_map(|h| {
            let num: String = h.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let num = num.trim_end_matches('.');
            (!num.is_empty()).then(|| num.to_string())
        })
        .collect()
}

/// `(doc, [sections])` for every `docs/NAME.md` in `text`, with the `§N` (and `§N–M`) that follow it.
fn citations(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("docs/") {
        rest = &rest[i + 5..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        if !rest[name.len()..].starts_with(".md") {
            continue;
        }
        let after = rest[name.len() + 3..].trim_start_matches('`');
        let mut sections = Vec::new();
        let mut tail = after.trim_start();
        while let Some(s) = tail.strip_prefix('§') {
            let num: String = s.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let num = num.trim_end_matches('.').to_string();
            if num.is_empty() {
                break;
            }
            let used = s.find(num.as_str()).unwrap() + num.len();
            sections.push(num);
            tail = s[used..].trim_start_matches(['–', '-', ',', ' ']).trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            tail = tail.trim_start_matches([',', ' ']);
        }
        out.push((format!("{name}.md"), sections));
    }
    out
}

#[test]
fn every_cited_doc_and_section_exists() {
    let root = repo();
    let mut sources = Vec::new();
    for dir in ["crates", "bench", "scripts"] {
        files(&root.join(dir), &[".rs", ".py", ".sh", ".toml"], &mut sources);
    }
    sources.extend(["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"].map(|f| root.join(f)));
    let this = fs::canonicalize(file!()).ok();
    let (mut checked, mut unresolved) = (0, Vec::new());
    for src in sources {
        if Some(&src) == this.as_ref() || src.ends_with("docs_citations.rs") {
            continue;
        }
        let text = fs::read_to_string(&src).unwrap();
        for (doc, sections) in citations(&text) {
            let path = root.join("docs").join(&doc);
            let Ok(body) = fs::read_to_string(&path) else {
                unresolved.push(format!("{}: docs/{doc} does not exist", src.display()));
                continue;
            };
            let known = headings(&body);
            for s in sections {
                checked += 1;
                if !known.contains(&s) {
                    unresolved.push(format!("{}: docs/{doc} §{s} is no heading of that file", src.display()));
                }
            }
        }
    }
    assert!(unresolved.is_empty(), "{} unresolved citations:\n{}", unresolved.len(), unresolved.join("\n"));
    assert!(checked >= 40, "only {checked} section citations found: the scan is broken");
}

#[test]
fn the_citation_scanner_reads_ranges_and_lists() {
    let c = citations("see `docs/paper-protocol.md` §13, D4 and docs/baselines.md §3.3, §4.3; docs/README.md");
    assert_eq!(
        c,
        [
            ("paper-protocol.md".to_string(), vec!["13".to_string()]),
            ("baselines.md".to_string(), vec!["3.3".to_string(), "4.3".to_string()]),
            ("README.md".to_string(), vec![]),
        ]
    );
    let r = citations("`docs/paper-protocol.md` §2.3–2.6");
    assert_eq!(r[0].1, ["2.3"]);
    let h = headings("# Title\n## 13. physrep's protocol\n### 10.3 Probe training\n## §6.8 Active matter\ntext 7.");
    assert_eq!(h.into_iter().collect::<Vec<_>>(), ["10.3", "13", "6.8"]);
}
