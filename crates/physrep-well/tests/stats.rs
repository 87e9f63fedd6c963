//! `stats.yaml` computed from the train split matches each fixture's independently computed file.

mod common;

use physrep_well::{moments, WellDataset, WellStats};

fn close(a: f64, b: f64) -> bool {
    // The fixture holds 5 significant digits (%.4E): compare to 1e-4 relative.
    (a - b).abs() <= 1e-4 * b.abs().max(a.abs()) || a == b
}

fn check(name: &str) {
    let ds = WellDataset::open(common::fixture(name)).unwrap();
    let got = moments::compute(&ds).unwrap();
    let want = WellStats::read(&common::fixture(name).join("stats.yaml")).unwrap();
    assert_eq!(got.fields.iter().map(|f| &f.name).collect::<Vec<_>>(), want.fields.iter().map(|f| &f.name).collect::<Vec<_>>());
    for (g, w) in got.fields.iter().zip(&want.fields) {
        assert_eq!(g.order, w.order);
        for (key, gv, wv) in [
            ("mean", &g.mean, &w.mean),
            ("std", &g.std, &w.std),
            ("rms", &g.rms, &w.rms),
            ("mean_delta", &g.mean_delta, &w.mean_delta),
            ("std_delta", &g.std_delta, &w.std_delta),
            ("rms_delta", &g.rms_delta, &w.rms_delta),
        ] {
            for (a, b) in gv.iter().zip(wv) {
                assert!(close(*a, *b), "{name} {key} {}: computed {a:e}, fixture {b:e}", g.name);
            }
        }
    }
    // Written text has the fixture's shape; it parses back to the printed values.
    let yaml = got.to_yaml();
    let fixture_text = std::fs::read_to_string(common::fixture(name).join("stats.yaml")).unwrap();
    let shape = |t: &str| t.lines().map(|l| l.split(':').next().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(shape(&yaml), shape(&fixture_text));
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("stats.yaml");
    got.write(&p).unwrap();
    let back = WellStats::read(&p).unwrap();
    assert_eq!(back.to_yaml(), yaml);
}

#[test]
fn active_matter_stats() {
    check("active_matter");
}

#[test]
fn shear_flow_stats() {
    check("shear_flow");
}

#[test]
fn rayleigh_benard_stats() {
    check("rayleigh_benard");
}
