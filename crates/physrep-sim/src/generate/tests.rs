//! Tests of dataset generation: seeded splits, option parsing, cost estimates, designs, reproducible tiny
//! datasets, and the physical check refusing unresolved files.

use super::*;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("physrep-sim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for s in ["train", "valid", "test"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join("data").join(s)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            out.push((f.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&f).unwrap()));
        }
    }
    out
}

#[test]
fn splits_are_a_seeded_partition() {
    let sys = crate::shear_flow::ShearFlow;
    let p = &sys.param_grid(Preset::Medium)[3];
    let s = split_ics(&sys, Preset::Medium, p, 1).unwrap();
    assert_eq!([s[0].len(), s[1].len(), s[2].len()], [32, 4, 4]);
    let mut all: Vec<usize> = s.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..40).collect::<Vec<_>>());
    assert_eq!(s, split_ics(&sys, Preset::Medium, p, 1).unwrap());
    assert_ne!(s, split_ics(&sys, Preset::Medium, p, 2).unwrap());
    let rb = crate::rayleigh_benard::RayleighBenard;
    let s = split_ics(&rb, Preset::Medium, &rb.param_grid(Preset::Medium)[0], 0).unwrap();
    assert_eq!([s[0].len(), s[1].len(), s[2].len()], [40, 5, 5]);
    let gs = GrayScott;
    let s = split_ics(&gs, Preset::Medium, &gs.param_grid(Preset::Medium)[0], 0).unwrap();
    assert_eq!([s[0].len(), s[1].len(), s[2].len()], [160, 20, 20]);
}

#[test]
fn options_parse_and_reject_bad_input() {
    assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
    assert!(parse_shard("4/4").is_err() && parse_shard("x").is_err() && parse_shard("0/0").is_err());
    assert_eq!("all".parse::<ParamSelection>().unwrap(), ParamSelection::All);
    assert!(system("navier_stokes").is_err());
    let opts = GenerateOptions { params: ParamSelection::List(vec!["nope".into()]), preset: Preset::Tiny, ..GenerateOptions::default() };
    let err = selected_points(&ShearFlow, &opts).unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn point_costs_cover_the_selection_and_estimate_split_rounds() {
    let opts =
        GenerateOptions { preset: Preset::Tiny, params: ParamSelection::List(vec!["1".into(), "0".into()]), ..GenerateOptions::default() };
    let bar = Progress::hidden();
    let costs = time_points(&ShearFlow, &opts, 2, &bar).unwrap();
    assert_eq!((bar.length(), bar.position()), (Some(4), 4));
    assert_eq!(costs.iter().map(|c| c.index).collect::<Vec<_>>(), [1, 0]);
    let grid = ShearFlow.param_grid(Preset::Tiny);
    for c in &costs {
        assert_eq!(c.point, grid[c.index]);
        assert_eq!(c.seconds.len(), 2);
        assert!(c.seconds.iter().all(|&t| t > 0.0), "{:?}", c.seconds);
        assert_eq!(c.split_counts, ShearFlow.split_counts(Preset::Tiny));
    }
    // Rounds of parallel trajectories: the 8 + 1 + 1 trajectories of a point on 3 cores are 4 rounds.
    let c = PointCost { index: 0, point: grid[0].clone(), seconds: vec![1.0, 3.0], split_counts: [8, 1, 1] };
    assert_eq!(c.seconds_per_trajectory(), 2.0);
    assert_eq!(c.trajectories(), 10);
    assert_eq!(c.wall_seconds(3), 8.0);
    assert_eq!(c.wall_seconds(1), 20.0);
    assert_eq!(c.wall_seconds(0), 20.0);
}

/// A design end to end: one file per point in the point's split with all its trajectories and its values
/// as scalars, `design.json`, stats; two shards write the same bytes as one run; a rerun with another
/// design into the same directory is an error and writes nothing.
#[test]
fn designs_generate_split_by_parameter_point() {
    let out = tmpdir("design");
    let spec: DesignSpec = "lhs:7".parse().unwrap();
    let opts = GenerateOptions {
        out: out.clone(),
        preset: Preset::Tiny,
        seed: 2,
        params: ParamSelection::Design(spec),
        ..GenerateOptions::default()
    };
    let dir = generate("advection", &opts).unwrap();
    let design: Design = serde_json::from_str(&std::fs::read_to_string(dir.join(design::DESIGN_FILE)).unwrap()).unwrap();
    assert_eq!(design, Design::lhs(&Advection, Preset::Tiny, spec, 2).unwrap());
    let ds = WellDataset::open(&dir).unwrap();
    let ics = Advection.ics_per_point(Preset::Tiny);
    let mut seen = Vec::new();
    for split in Split::ALL {
        let expected: Vec<&design::DesignPoint> = design.points.iter().filter(|p| p.split == split).collect();
        assert_eq!(ds.files(split).len(), expected.len(), "{split}");
        assert_eq!(ds.trajectories(split), expected.len() * ics, "{split}");
        for (f, info) in ds.files(split).iter().enumerate() {
            let name = info.path.file_name().unwrap().to_str().unwrap();
            let p = expected.iter().find(|p| p.point.file_name == name).expect("a design file");
            assert_eq!(ds.params(split, f).unwrap(), [p.point.get("speed").unwrap()]);
            seen.push(name.to_string());
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "every point in exactly one split");
    assert!(dir.join("stats.yaml").exists());
    let whole = read_bytes(&dir);
    // The same design in two shards.
    let sharded = tmpdir("design-shards");
    for i in 0..2 {
        generate("advection", &GenerateOptions { out: sharded.clone(), shard: (i, 2), ..opts.clone() }).unwrap();
    }
    assert_eq!(read_bytes(&sharded.join("advection")), whole);
    // The last shard to finish wrote stats.yaml, as the single run did.
    assert_eq!(std::fs::read(sharded.join("advection/stats.yaml")).unwrap(), std::fs::read(dir.join("stats.yaml")).unwrap());
    // Another design (seed), or the grid, into the same directory: refused, nothing written.
    let e = generate("advection", &GenerateOptions { seed: 3, ..opts.clone() }).unwrap_err().to_string();
    assert!(e.contains("generated with seed 2") && e.contains("--force"), "{e}");
    let e = generate("advection", &GenerateOptions { params: ParamSelection::All, ..opts.clone() }).unwrap_err().to_string();
    assert!(e.contains("grid"), "{e}");
    assert_eq!(read_bytes(&dir), whole);
    // `lhs:7x2`: the same points, two trajectories each, equal to the first two of `lhs:7`'s.
    let fewer = tmpdir("design-ics");
    let spec2: DesignSpec = "lhs:7x2".parse().unwrap();
    let dir2 =
        generate("advection", &GenerateOptions { out: fewer.clone(), params: ParamSelection::Design(spec2), ..opts.clone() }).unwrap();
    let design2: Design = serde_json::from_str(&std::fs::read_to_string(dir2.join(design::DESIGN_FILE)).unwrap()).unwrap();
    assert_eq!((design2.design.as_str(), design2.ics_per_point), ("lhs:7x2", 2));
    assert_eq!(design2.points, design.points);
    assert!(ics > 2, "the preset must hold more than two ICs for this test to mean something");
    let ds2 = WellDataset::open(&dir2).unwrap();
    for split in Split::ALL {
        assert_eq!(ds2.trajectories(split), ds.files(split).len() * 2, "{split}");
        for (f, info) in ds2.files(split).iter().enumerate() {
            let full = ds.files(split).iter().position(|g| g.path.file_name() == info.path.file_name()).unwrap();
            for trajectory in 0..2 {
                let w = |file| physrep_well::WindowRef { split, file, trajectory, t0: 0, context: 4, target: 4, target_trajectory: None };
                let a = ds2.read_window(&w(f), &physrep_well::Crop::FULL).unwrap();
                let b = ds.read_window(&w(full), &physrep_well::Crop::FULL).unwrap();
                assert_eq!(a, b, "{split} {} trajectory {trajectory}", info.path.display());
            }
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&sharded).unwrap();
    std::fs::remove_dir_all(&fewer).unwrap();
}

/// Every system's `tiny` preset: files in the Well layout that the `physrep-well` reader opens, with
/// stats.yaml and their physical check; a rerun skips existing files; the same seed reproduces
/// bit-identical files. Rayleigh–Bénard, shear flow and advection pass their checks in every file; active
/// matter and Gray–Scott `tiny` fail theirs and are kept with the flag.
#[test]
fn tiny_presets_generate_readable_reproducible_datasets() {
    for name in SYSTEM_NAMES {
        let out = tmpdir(name);
        let opts =
            GenerateOptions { out: out.clone(), preset: Preset::Tiny, seed: 5, allow_unresolved: true, ..GenerateOptions::default() };
        let dir = generate(name, &opts).unwrap();
        let ds = WellDataset::open(&dir).unwrap();
        assert_eq!(ds.name(), name);
        for s in Split::ALL {
            assert!(ds.trajectories(s) >= 1, "{name} {s}");
        }
        assert!(ds.frames() >= 32);
        // The attribute written after streaming the trajectories: one entry per trajectory of the file.
        let train = dir.join("data/train").join(&system(name).unwrap().param_grid(Preset::Tiny)[0].file_name);
        let f = hdf5::File::open(&train).unwrap();
        let n = f.attr("n_trajectories").unwrap().read_scalar::<i64>().unwrap() as usize;
        let ic_params = f.attr("ic_parameters").unwrap().read_raw::<hdf5::types::VarLenUnicode>().unwrap();
        assert_eq!(ic_params.len(), n, "{name}: ic_parameters per trajectory");
        let check = FileCheck::read(&train).unwrap().expect("a physical check");
        assert_eq!(check.trajectories, n);
        assert!(check.allow_unresolved);
        assert_eq!(f.attr("physical_check_passed").unwrap().read_scalar::<bool>().unwrap(), check.passed);
        // `tiny` labels are z-scored with the train split's own statistics, in the paper's label space.
        assert_eq!(f.attr(LABEL_SCALING_ATTR).unwrap().read_scalar::<hdf5::types::VarLenUnicode>().unwrap().as_str(), "train");
        let z: Vec<Vec<f64>> = (0..ds.files(Split::Train).len()).map(|i| ds.labels(Split::Train, i).unwrap()).collect();
        for j in 0..z[0].len() {
            let mean = z.iter().map(|r| r[j]).sum::<f64>() / z.len() as f64;
            let var = z.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / z.len() as f64;
            assert!(mean.abs() < 1e-9 && (var < 1e-12 || (var - 1.0).abs() < 1e-9), "{name} label {j}: mean {mean}, var {var}");
        }
        // The resolved presets pass at every point and initial condition, in every split.
        if !crate::checks::UNRESOLVED_SYSTEMS.contains(&name) {
            for s in Split::ALL {
                for info in ds.files(s) {
                    let c = FileCheck::read(&info.path).unwrap().expect("a physical check");
                    assert!(c.passed, "{name} {s} {}: {:?}", info.path.display(), c.failures);
                }
            }
        }
        let stats = physrep_well::stats::WellStats::read(&dir.join("stats.yaml")).unwrap();
        let first = &system(name).unwrap().layout(Preset::Tiny).fields[0].name;
        assert!(stats.field(first).is_some(), "{name}: stats for {first}");
        let before = read_bytes(&dir);
        // Resume: nothing to do, nothing changes.
        generate(name, &opts).unwrap();
        assert_eq!(before, read_bytes(&dir));
        // Regenerate one file from scratch (as after a kill): bit-identical.
        let victim = dir.join("data/train").join(&system(name).unwrap().param_grid(Preset::Tiny)[0].file_name);
        std::fs::remove_file(&victim).unwrap();
        generate(name, &opts).unwrap();
        assert_eq!(before, read_bytes(&dir), "{name}: regenerated file differs");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// Rayleigh–Bénard at Ra 1e7 on the `tiny` grid: generation stops with an error naming the file, the
/// parameters and the failed check, and writes nothing; with `allow_unresolved` the file is kept and says so.
#[test]
fn unresolved_files_are_refused_unless_allowed() {
    struct CoarseRb;
    impl System for CoarseRb {
        fn name(&self) -> &'static str {
            "rayleigh_benard"
        }
        fn param_grid(&self, _: Preset) -> Vec<ParamPoint> {
            let params = vec![("Rayleigh".into(), 1e7), ("Prandtl".into(), 1.0)];
            vec![ParamPoint { params, file_name: "rayleigh_benard_Rayleigh_1e7_Prandtl_1.hdf5".into() }]
        }
        fn ics_per_point(&self, preset: Preset) -> usize {
            RayleighBenard.ics_per_point(preset)
        }
        fn layout(&self, preset: Preset) -> crate::Layout {
            RayleighBenard.layout(preset)
        }
        fn simulate(&self, p: &ParamPoint, ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
            RayleighBenard.simulate(p, ic, seed, preset)
        }
    }
    let out = tmpdir("unresolved");
    let mut opts = GenerateOptions { out: out.clone(), preset: Preset::Tiny, ..GenerateOptions::default() };
    let err = generate_with(&CoarseRb, &opts).unwrap_err();
    assert!(matches!(err, SimError::Unresolved { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("Rayleigh_1e7_Prandtl_1.hdf5") && msg.contains("Rayleigh=10000000") && msg.contains("bound: buoyancy"), "{msg}");
    let train = out.join("rayleigh_benard/data/train/rayleigh_benard_Rayleigh_1e7_Prandtl_1.hdf5");
    for split in ["train", "valid", "test"] {
        let dir = out.join("rayleigh_benard/data").join(split);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{split}: nothing written");
    }
    opts.allow_unresolved = true;
    generate_with(&CoarseRb, &opts).unwrap();
    let check = FileCheck::read(&train).unwrap().unwrap();
    assert!(!check.passed && check.allow_unresolved && check.bound_excursion > crate::checks::BOUND_TOL, "{check:?}");
    std::fs::remove_dir_all(&out).unwrap();
}
