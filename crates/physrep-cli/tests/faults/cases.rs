//! The table of single-command fault cases. Each entry: name, the command (run in the case's scratch
//! dir), the expected exit code and stderr needles (case-insensitive, `a|b` = either), a setup
//! building the scratch dir from the shared artefacts, and the paths it may change.
//!
//! Shared artefacts (see `harness::Ctx`): `am`, `sf`, `rb`, `dummy` (fixtures), `run` (finished tiny
//! AM JEPA run, probed into `run/probe`), `part` (the same run stopped at update 4), `rbrun` (RB run),
//! `sim` (root of a simulated tiny shear_flow dataset).

use super::h5edit as h5;
use super::harness::{fails, succeeds, Case, Scratch, E1, E12, E2, PROBE, TINY};

pub const AM_T0: &str = "am/data/train/active_matter_L_10.0_zeta_1.0_alpha_-1.0.hdf5";
pub const AM_T1: &str = "am/data/train/active_matter_L_10.0_zeta_9.0_alpha_-3.0.hdf5";
pub const AM_V: &str = "am/data/valid/active_matter_L_10.0_zeta_17.0_alpha_-5.0.hdf5";
pub const SF_T0: &str = "sf/data/train/shear_flow_Reynolds_1e4_Schmidt_1e-1.hdf5";
/// Junk an AppleDouble (`._NAME`) sidecar holds: its magic and a few zero bytes.
const APPLEDOUBLE: &[u8] = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x00\x00\x00";
/// The clap tip for values that look like flags, wrong for negative numbers.
const DASH_TIP: &[&str] = &["'-- -1'"];

fn am(s: &Scratch) {
    s.take("am", "am");
}
fn am_run(s: &Scratch) {
    s.take("am", "am");
    s.take("run", "run");
}
fn sim(s: &Scratch) {
    s.take("sim", "sim");
}

/// `pretrain` of a tiny JEPA on `data` into `r`, with extra arguments.
fn pretrain(data: &str, extra: &str) -> String {
    format!("pretrain --method jepa --data {data} --out r {TINY} --stop-after 1 {extra}")
}

/// `probe` of `run` on `data` (cheap linear probe), with extra arguments.
fn probe(run: &str, data: &str, extra: &str) -> String {
    format!("probe --run {run} --data {data} {PROBE} {extra}")
}

pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(inspect());
    v.extend(stats());
    v.extend(plot_sample());
    v.extend(simulate());
    v.extend(pretrain_cases());
    v.extend(probe_cases());
    v.extend(other_commands());
    v
}

/// Well-file faults, applied to `inspect` (metadata) — the same faults reach `stats`/`pretrain` below.
fn inspect() -> Vec<Case> {
    vec![
        fails("inspect_missing_dir", "inspect nope", E1, &["nope", "missing|not found|no such"]),
        fails("inspect_file_not_dir", "inspect am/stats.yaml", E1, &["stats.yaml", "directory"]).setup(am),
        fails("inspect_no_args", "inspect", E2, &["dataset_dir"]),
        fails("inspect_unknown_flag", "inspect am --foo", E2, &["--foo"]).setup(am),
        succeeds("inspect_reports_missing_train_split", "inspect am --json", &[])
            .setup(|s| {
                am(s);
                s.rm("am/data/train");
            })
            .check(|_, out| {
                let j: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("--json output: {e}"))?;
                (j["splits"]["train"]["present"] == false)
                    .then_some(())
                    .ok_or(format!("missing train split reported as {}", j["splits"]["train"]))
            }),
        fails("inspect_not_hdf5", "inspect am", E1, &["x.hdf5", "hdf5"]).setup(|s| {
            am(s);
            s.write("am/data/train/x.hdf5", b"this is not an HDF5 file\n");
        }),
        fails("inspect_zero_byte_hdf5", "inspect am --json", E1, &["x.hdf5", "empty|zero|0 bytes|not hdf5|hdf5 file"]).setup(|s| {
            am(s);
            s.write("am/data/train/x.hdf5", b"");
        }),
        fails("inspect_truncated_hdf5", "inspect am", E1, &["zeta_1.0", "truncated|corrupt"]).setup(|s| {
            am(s);
            s.truncate(AM_T0, 0.5);
        }),
        succeeds("inspect_skips_appledouble", "inspect am --json", &[])
            .setup(|s| {
                am(s);
                s.write("am/data/train/._active_matter_L_10.0_zeta_1.0_alpha_-1.0.hdf5", APPLEDOUBLE);
                s.write("am/data/valid/._x.hdf5", APPLEDOUBLE);
            })
            .check(|_, out| {
                let j: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("--json output: {e}"))?;
                let n = &j["splits"]["train"]["files"];
                (n == 2 && j["splits"]["valid"]["files"] == 1).then_some(()).ok_or(format!("`._` files counted: splits {}", j["splits"]))
            }),
        fails("inspect_symlink_self_loop", "inspect am", E1, &["loop.hdf5", "symbolic link|symlink"]).setup(|s| {
            am(s);
            s.symlink("loop.hdf5", "am/data/train/loop.hdf5");
        }),
        fails("inspect_symlink_pair_loop", "inspect am", E1, &["a.hdf5|b.hdf5", "symbolic link|symlink"]).setup(|s| {
            am(s);
            s.symlink("b.hdf5", "am/data/train/a.hdf5");
            s.symlink("a.hdf5", "am/data/train/b.hdf5");
        }),
        fails("inspect_dir_symlink_loop", "inspect am --json", E1, &["am/data/train/up", "symbolic link"])
            .setup(|s| {
                am(s);
                s.symlink("..", "am/data/train/up");
            })
            .timeout(30),
        fails("inspect_dangling_symlink", "inspect am", E1, &["gone.hdf5"]).setup(|s| {
            am(s);
            s.symlink("nowhere.hdf5", "am/data/train/gone.hdf5");
        }),
        fails("inspect_missing_n_trajectories", "inspect am", E1, &["zeta_1.0", "n_trajectories"]).setup(|s| {
            am(s);
            h5::delete_root_attr(&s.p(AM_T0), "n_trajectories");
        }),
        fails("inspect_n_trajectories_string", "inspect am", E1, &["zeta_1.0", "n_trajectories"]).setup(|s| {
            am(s);
            h5::root_attr_as_string(&s.p(AM_T0), "n_trajectories", "two");
        }),
        fails("inspect_n_trajectories_too_many", "inspect am", E1, &["zeta_1.0", "n_trajectories|trajector"]).setup(|s| {
            am(s);
            h5::root_attr_as_int(&s.p(AM_T0), "n_trajectories", 7);
        }),
        fails("inspect_n_spatial_dims_3", "inspect am", E1, &["zeta_1.0", "n_spatial_dims"]).setup(|s| {
            am(s);
            h5::root_attr_as_int(&s.p(AM_T0), "n_spatial_dims", 3);
        }),
        fails("inspect_missing_dataset_name", "inspect am", E1, &["zeta_1.0", "dataset_name"]).setup(|s| {
            am(s);
            h5::delete_root_attr(&s.p(AM_T0), "dataset_name");
        }),
        fails("inspect_missing_time", "inspect am", E1, &["zeta_1.0", "time"]).setup(|s| {
            am(s);
            h5::unlink(&s.p(AM_T0), "dimensions/time");
        }),
        fails("inspect_missing_field_group", "inspect am", E1, &["zeta_1.0", "t1_fields"]).setup(|s| {
            am(s);
            h5::unlink(&s.p(AM_T0), "t1_fields");
        }),
        fails("inspect_listed_field_missing", "inspect am", E1, &["zeta_1.0", "velocity"]).setup(|s| {
            am(s);
            h5::unlink(&s.p(AM_T0), "t1_fields/velocity");
        }),
        fails("inspect_field_rank3", "inspect am", E1, &["zeta_1.0", "concentration", "shape"]).setup(|s| {
            am(s);
            h5::reshape_field(&s.p(AM_T0), "t0_fields", "concentration", &[2, 34, 16]);
        }),
        fails("inspect_field_wrong_frames", "inspect am", E1, &["zeta_1.0", "concentration", "33"]).setup(|s| {
            am(s);
            h5::reshape_field(&s.p(AM_T0), "t0_fields", "concentration", &[2, 33, 16, 16]);
        }),
        fails("inspect_field_wrong_grid", "inspect am", E1, &["zeta_1.0", "concentration", "15"]).setup(|s| {
            am(s);
            h5::reshape_field(&s.p(AM_T0), "t0_fields", "concentration", &[2, 34, 15, 16]);
        }),
        fails("inspect_vector_field_wrong_components", "inspect am", E1, &["zeta_1.0", "velocity", "shape|component"]).setup(|s| {
            am(s);
            h5::reshape_field(&s.p(AM_T0), "t1_fields", "velocity", &[2, 34, 16, 16, 3]);
        }),
        fails("inspect_field_text_dtype", "inspect am", E1, &["zeta_1.0", "concentration", "float32|type"]).setup(|s| {
            am(s);
            h5::retype_field_as_text(&s.p(AM_T0), "t0_fields", "concentration");
        }),
        fails("inspect_files_disagree_fields", "inspect am", E1, &["shear_flow_Reynolds", "dataset_name|field|channel"]).setup(|s| {
            am(s);
            s.take("sf", "sf");
            std::fs::copy(s.p(SF_T0), s.p("am/data/train/shear_flow_Reynolds_1e4_Schmidt_1e-1.hdf5")).unwrap();
            s.rm("sf");
        }),
        fails("inspect_dataset_is_hdf5_file", &format!("inspect {AM_T0}"), E1, &["zeta_1.0", "directory"]).setup(am),
    ]
}

fn stats() -> Vec<Case> {
    vec![
        fails("stats_nan_in_scalar_field", "stats am", E1, &["zeta_9.0", "concentration", "trajectory 1", "frame", "nan|non-finite"])
            .setup(|s| {
                am(s);
                h5::set_value(&s.p(AM_T1), "t0_fields/concentration", &[1, 5, 3, 4], f32::NAN);
            })
            .absent(&[]),
        fails(
            "stats_inf_in_vector_field",
            "stats am --out out.yaml",
            E1,
            &["zeta_1.0", "velocity", "trajectory 0", "frame", "inf|non-finite"],
        )
        .setup(|s| {
            am(s);
            h5::set_value(&s.p(AM_T0), "t1_fields/velocity", &[0, 10, 2, 2, 1], f32::INFINITY);
        })
        .absent(&["out.yaml"]),
        fails(
            "stats_neg_inf_in_tensor_field",
            "stats am --out out.yaml",
            E1,
            &["zeta_9.0", "D", "trajectory 0", "frame", "inf|non-finite"],
        )
        .setup(|s| {
            am(s);
            h5::set_value(&s.p(AM_T1), "t2_fields/D", &[0, 33, 0, 0, 1, 0], f32::NEG_INFINITY);
        })
        .absent(&["out.yaml"]),
        fails("stats_nan_last_frame", "stats am", E1, &["zeta_1.0", "E", "trajectory 1", "frame", "nan|non-finite"]).setup(|s| {
            am(s);
            h5::set_value(&s.p(AM_T0), "t2_fields/E", &[1, 33, 15, 15, 1, 1], f32::NAN);
        }),
        fails("stats_missing_dir", "stats nope", E1, &["nope"]),
        fails("stats_missing_train_split", "stats am", E1, &["data/train", "missing"]).setup(|s| {
            am(s);
            s.rm("am/data/train");
        }),
        fails("stats_empty_train", "stats am", E1, &["data/train", "empty|no .*|no *.h|no files|no hdf5|no well"]).setup(|s| {
            am(s);
            s.empty_dir("am/data/train");
        }),
        fails("stats_not_hdf5", "stats am", E1, &["x.hdf5"]).setup(|s| {
            am(s);
            s.write("am/data/train/x.hdf5", b"GIF89a not hdf5");
        }),
        fails("stats_zero_byte", "stats am", E1, &["x.hdf5"]).setup(|s| {
            am(s);
            s.write("am/data/train/x.hdf5", b"");
        }),
        fails("stats_truncated_data", "stats am --out out.yaml", E1, &["zeta_9.0", "truncated|corrupt"])
            .setup(|s| {
                am(s);
                s.truncate(AM_T1, 0.9);
            })
            .absent(&["out.yaml"]),
        fails("stats_symlink_loop", "stats am", E1, &["loop.hdf5", "symbolic link|symlink"]).setup(|s| {
            am(s);
            s.symlink("loop.hdf5", "am/data/train/loop.hdf5");
        }),
        fails("stats_field_text_dtype", "stats am --out out.yaml", E1, &["zeta_9.0", "concentration", "float32|type"])
            .setup(|s| {
                am(s);
                h5::retype_field_as_text(&s.p(AM_T1), "t0_fields", "concentration");
            })
            .absent(&["out.yaml"]),
        fails("stats_out_is_dir", "stats am --out am/data", E1, &["am/data", "directory"]).setup(am),
        succeeds("stats_skips_appledouble", "stats am --out out.yaml", &[])
            .setup(|s| {
                am(s);
                s.write("am/data/train/._active_matter_L_10.0_zeta_9.0_alpha_-3.0.hdf5", APPLEDOUBLE);
            })
            .check(|s, _| {
                let t = String::from_utf8(s.read("out.yaml")).map_err(|e| e.to_string())?;
                (t.contains("concentration") && !t.to_lowercase().contains("nan")).then_some(()).ok_or(format!("out.yaml: {t}"))
            }),
        fails("stats_constant_field_zero_std", "stats am --out out.yaml", E1, &["concentration", "std|constant"])
            .setup(|s| {
                am(s);
                h5::fill(&s.p(AM_T0), "t0_fields/concentration", 1.0);
                h5::fill(&s.p(AM_T1), "t0_fields/concentration", 1.0);
            })
            .absent(&["out.yaml"]),
        fails("stats_no_args", "stats", E2, &["dataset_dir"]),
    ]
}

fn plot_sample() -> Vec<Case> {
    let f = |extra: &str| format!("plot-sample {AM_T0} --out o.png {extra}");
    vec![
        fails("plot_scale_huge", &f("--scale 100000"), E12, &["--scale"]).setup(am).absent(&["o.png"]),
        fails("plot_scale_zero", &f("--scale 0"), E12, &["--scale"]).setup(am).absent(&["o.png"]),
        fails("plot_scale_negative", &f("--scale -2"), E2, &["--scale"]).setup(am).lacks(DASH_TIP),
        fails("plot_frames_zero", &f("--frames 0"), E12, &["--frames"]).setup(am).absent(&["o.png"]),
        fails("plot_trajectory_out_of_range", &f("--trajectory 5"), E1, &["trajectory", "5"]).setup(am).absent(&["o.png"]),
        fails("plot_trajectory_negative", &f("--trajectory -1"), E2, &["--trajectory"]).setup(am).lacks(DASH_TIP),
        fails("plot_missing_file", "plot-sample nope.hdf5 --out o.png", E1, &["nope.hdf5"]),
        fails("plot_not_hdf5", "plot-sample x.hdf5 --out o.png", E1, &["x.hdf5", "hdf5"]).setup(|s| s.write("x.hdf5", b"plain text")),
        fails("plot_zero_byte", "plot-sample x.hdf5 --out o.png", E1, &["x.hdf5"]).setup(|s| s.write("x.hdf5", b"")),
        fails("plot_file_is_dir", "plot-sample am --out o.png", E1, &["am", "directory|not a file"]).setup(am),
        fails("plot_out_is_dir", &format!("plot-sample {AM_T0} --out am"), E1, &["am", "directory"]).setup(am),
        fails("plot_nan_field", &f(""), E1, &["zeta_1.0", "concentration", "nan|non-finite"])
            .setup(|s| {
                am(s);
                h5::set_value(&s.p(AM_T0), "t0_fields/concentration", &[0, 0, 1, 1], f32::NAN);
            })
            .absent(&["o.png"]),
        fails("plot_field_rank3", &f(""), E1, &["zeta_1.0", "concentration", "shape"]).setup(|s| {
            am(s);
            h5::reshape_field(&s.p(AM_T0), "t0_fields", "concentration", &[2, 34, 16]);
        }),
    ]
}

fn simulate() -> Vec<Case> {
    let stale_name = |s: &Scratch| {
        let f = s.first_file("sim/shear_flow/data/train");
        let (dir, name) = f.rsplit_once('/').unwrap();
        format!("{dir}/.{name}.tmp-3999999")
    };
    vec![
        fails("simulate_unknown_system", "simulate foo --out o --preset tiny", E12, &["foo", "shear_flow"]).absent(&["o"]),
        fails("simulate_seed_negative", "simulate shear_flow --out o --preset tiny --seed -1", E2, &["--seed"])
            .lacks(DASH_TIP)
            .absent(&["o"]),
        fails("simulate_seed_text", "simulate shear_flow --out o --preset tiny --seed abc", E2, &["--seed", "abc"]).absent(&["o"]),
        fails("simulate_shard_out_of_range", "simulate shear_flow --out o --preset tiny --shard 2/2", E12, &["--shard", "2/2"])
            .absent(&["o"]),
        fails("simulate_shard_zero_of_zero", "simulate shear_flow --out o --preset tiny --shard 0/0", E12, &["--shard"]).absent(&["o"]),
        fails("simulate_shard_malformed", "simulate shear_flow --out o --preset tiny --shard x", E12, &["--shard"]).absent(&["o"]),
        fails("simulate_design_lhs0", "simulate shear_flow --out o --preset tiny --design lhs:0", E12, &["--design", "lhs:0"])
            .absent(&["o"]),
        fails("simulate_design_unknown", "simulate shear_flow --out o --preset tiny --design grid:3", E12, &["--design"]).absent(&["o"]),
        fails("simulate_preset_unknown", "simulate shear_flow --out o --preset huge", E12, &["preset", "huge"]).absent(&["o"]),
        fails("simulate_params_out_of_range", "simulate shear_flow --out o --preset tiny --params 999", E12, &["--params", "999"])
            .absent(&["o"]),
        fails(
            "simulate_params_unknown_file",
            "simulate shear_flow --out o --preset tiny --params nope.hdf5",
            E12,
            &["--params", "nope.hdf5"],
        )
        .absent(&["o"]),
        fails("simulate_no_out", "simulate shear_flow --preset tiny", E2, &["--out"]),
        fails("simulate_out_is_file", "simulate shear_flow --out f.txt --preset tiny", E1, &["f.txt"])
            .setup(|s| s.write("f.txt", b"keep me")),
        fails("simulate_system_path_is_file", "simulate shear_flow --out o --preset tiny", E1, &["shear_flow"])
            .setup(|s| s.write("o/shear_flow", b"keep")),
        fails("simulate_rerun_other_seed", "simulate shear_flow --out sim --preset tiny --seed 3", E1, &["seed", "--force"]).setup(sim),
        fails("simulate_rerun_other_preset", "simulate shear_flow --out sim --preset small --params 0", E1, &["preset", "--force"])
            .setup(sim)
            .absent(&["sim/shear_flow/data/train/shear_flow_Reynolds_5e2_Schmidt_1e-1.hdf5"]),
        succeeds("simulate_rerun_same_is_noop", "simulate shear_flow --out sim --preset tiny", &[]).setup(sim),
        succeeds("simulate_removes_stale_tmp", "simulate shear_flow --out sim --preset tiny", &[])
            .setup(move |s| {
                sim(s);
                s.write(&stale_name(s), b"\x89HDF\r\n\x1a\n half-written by a dead process");
            })
            .may_change(&["sim/shear_flow/data/train"])
            .check(|s, _| {
                let fresh = super::harness::snapshot(&s.p("sim"));
                let reference = super::harness::snapshot(&s.ctx.path("sim"));
                (fresh == reference).then_some(()).ok_or("dataset differs from an uninterrupted run".into())
            }),
    ]
}

fn pretrain_cases() -> Vec<Case> {
    let bad_override =
        |name: &'static str, ov: &str, needles: &'static [&'static str]| fails(name, &pretrain("am", ov), E1, needles).setup(am);
    vec![
        fails("pretrain_unknown_method", &format!("pretrain --method foo --data am --out r {TINY}"), E12, &["--method", "foo"]).setup(am),
        fails("pretrain_no_method", "pretrain --data am --out r --preset tiny", E2, &["--method"]).setup(am),
        fails("pretrain_missing_data", &pretrain("nope", ""), E1, &["nope"]),
        fails("pretrain_data_is_file", &pretrain("am/stats.yaml", ""), E1, &["stats.yaml", "directory"]).setup(am),
        fails("pretrain_missing_train_split", &pretrain("am", ""), E1, &["data/train"]).setup(|s| {
            am(s);
            s.rm("am/data/train");
        }),
        succeeds("pretrain_without_valid_split", &pretrain("am", ""), &[]).setup(|s| {
            am(s);
            s.rm("am/data/valid");
        }),
        fails("pretrain_empty_train", &pretrain("am", ""), E1, &["train"]).setup(|s| {
            am(s);
            s.empty_dir("am/data/train");
        }),
        fails("pretrain_not_hdf5_in_train", &pretrain("am", ""), E1, &["x.hdf5"]).setup(|s| {
            am(s);
            s.write("am/data/train/x.hdf5", b"not hdf5 at all");
        }),
        fails("pretrain_zero_byte_in_valid", &pretrain("am", ""), E1, &["x.hdf5"]).setup(|s| {
            am(s);
            s.write("am/data/valid/x.hdf5", b"");
        }),
        fails("pretrain_symlink_loop_in_train", &pretrain("am", ""), E1, &["loop.hdf5"]).setup(|s| {
            am(s);
            s.symlink("loop.hdf5", "am/data/train/loop.hdf5");
        }),
        succeeds("pretrain_skips_appledouble", &pretrain("am", ""), &[])
            .setup(|s| {
                am(s);
                s.write("am/data/train/._active_matter_L_10.0_zeta_1.0_alpha_-1.0.hdf5", APPLEDOUBLE);
                s.write("am/data/valid/._x.hdf5", APPLEDOUBLE);
            })
            .check(|s, _| s.p("r/checkpoints/update-00000001").exists().then_some(()).ok_or("no checkpoint at update 1".into())),
        fails("pretrain_nan_in_train", &pretrain("am", ""), E1, &["zeta_9.0", "concentration", "trajectory", "frame"]).setup(|s| {
            am(s);
            h5::set_value(&s.p(AM_T1), "t0_fields/concentration", &[0, 2, 3, 4], f32::NAN);
        }),
        fails("pretrain_field_rank3", &pretrain("am", ""), E1, &["zeta_1.0", "concentration", "shape"]).setup(|s| {
            am(s);
            h5::reshape_field(&s.p(AM_T0), "t0_fields", "concentration", &[2, 34, 16]);
        }),
        succeeds("pretrain_without_stats_yaml", &pretrain("am", ""), &[]).setup(|s| {
            am(s);
            s.rm("am/stats.yaml");
        }),
        fails("pretrain_malformed_stats_yaml", &pretrain("am", ""), E1, &["stats.yaml"]).setup(|s| {
            am(s);
            s.write("am/stats.yaml", b"mean: [this is: not\n  valid yaml");
        }),
        fails("inspect_stats_yaml_lacks_field", "inspect am", E1, &["stats.yaml", "velocity"]).setup(|s| {
            am(s);
            s.edit("am/stats.yaml", |t| t.lines().filter(|l| !l.trim_start().starts_with("velocity")).collect::<Vec<_>>().join("\n"));
        }),
        fails("inspect_stats_yaml_nan", "inspect am", E1, &["stats.yaml", "concentration", "nan|finite"]).setup(|s| {
            am(s);
            s.edit("am/stats.yaml", |t| {
                let mut done = false;
                t.lines()
                    .map(|l| {
                        if !done && l.trim_start().starts_with("concentration:") {
                            done = true;
                            "  concentration: .nan".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }),
        fails("inspect_stats_yaml_zero_std", "inspect am", E1, &["stats.yaml", "std", "concentration"]).setup(|s| {
            am(s);
            s.edit("am/stats.yaml", |t| {
                let mut in_std = false;
                t.lines()
                    .map(|l| {
                        if !l.starts_with(' ') {
                            in_std = l.starts_with("std:");
                        }
                        if in_std && l.trim_start().starts_with("concentration:") {
                            "  concentration: 0.0000E+00".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }),
        bad_override("pretrain_override_not_number", "train.lr=abc", &["train.lr", "abc"]),
        bad_override("pretrain_override_no_equals", "nokey", &["nokey", "key=value"]),
        bad_override("pretrain_override_unknown_key", "train.nope=1", &["train.nope", "unknown"]),
        bad_override("pretrain_override_unknown_section", "nosuch.lr=1", &["nosuch"]),
        bad_override("pretrain_override_empty_value", "train.lr=", &["train.lr"]),
        bad_override("pretrain_keep_checkpoints_negative", "train.keep_checkpoints=-1", &["train.keep_checkpoints", "-1"]),
        bad_override("pretrain_epochs_zero", "train.epochs=0", &["train.epochs"]),
        bad_override("pretrain_micro_batch_zero", "train.micro_batch=0", &["train.micro_batch"]),
        bad_override("pretrain_global_batch_not_multiple", "train.global_batch=6", &["train.global_batch", "micro_batch"]),
        bad_override("pretrain_lr_negative", "train.lr=-1e-3", &["train.lr"]),
        bad_override("pretrain_lr_nan", "train.lr=nan", &["train.lr"]),
        bad_override("pretrain_resolution_not_multiple", "data.resolution=17", &["data.resolution", "16"]),
        bad_override("pretrain_resolution_zero", "data.resolution=0", &["data.resolution"]),
        bad_override(
            "pretrain_window_longer_than_trajectory",
            "data.context_frames=24 data.target_frames=24 method.encoder.num_frames=24",
            &["frames", "34"],
        ),
        bad_override("pretrain_checkpoint_every_negative", "train.checkpoint_every=-2", &["train.checkpoint_every"]),
        fails("pretrain_preset_unknown", "pretrain --method jepa --data am --out r --preset huge", E12, &["preset", "huge"]).setup(am),
        fails(
            "pretrain_stop_after_negative",
            &format!("pretrain --method jepa --data am --out r {TINY} --stop-after -1"),
            E2,
            &["--stop-after"],
        )
        .setup(am)
        .lacks(DASH_TIP),
        fails(
            "pretrain_stop_after_zero",
            &format!("pretrain --method jepa --data am --out r {TINY} --stop-after 0"),
            E12,
            &["--stop-after"],
        )
        .setup(am),
        fails("pretrain_device_unknown", &pretrain("am", "--device tpu"), E12, &["--device", "tpu"]).setup(am),
        fails("pretrain_out_is_file", &pretrain("am", "").replace("--out r ", "--out f.txt "), E1, &["f.txt"]).setup(|s| {
            am(s);
            s.write("f.txt", b"keep me");
        }),
        fails(
            "pretrain_out_exists_without_resume",
            &format!("pretrain --method jepa --data am --out run {TINY}"),
            E1,
            &["run", "--resume"],
        )
        .setup(am_run),
        fails("pretrain_resume_missing_run", &format!("pretrain --method jepa --data am --out nope {TINY} --resume"), E1, &["nope"])
            .setup(am),
        fails(
            "pretrain_resume_other_method",
            &format!("pretrain --method videomae --data am --out part {TINY} --resume"),
            E1,
            &["jepa", "videomae"],
        )
        .setup(|s| {
            am(s);
            s.take("part", "part");
        }),
        fails("pretrain_config_missing", &pretrain("am", "--config nope.toml"), E1, &["nope.toml"]).setup(am),
        fails("pretrain_config_malformed", &pretrain("am", "--config c.toml"), E1, &["c.toml"]).setup(|s| {
            am(s);
            s.write("c.toml", b"[train\nlr = ");
        }),
        fails("pretrain_config_unknown_key", &pretrain("am", "--config c.toml"), E1, &["c.toml", "bogus"]).setup(|s| {
            am(s);
            s.write("c.toml", b"[train]\nbogus = 1\n");
        }),
        fails(
            "pretrain_resume_all_checkpoints_truncated",
            &format!("pretrain --method jepa --data am --out part {TINY} --resume"),
            E1,
            &["corrupt|truncated", "update-0000000"],
        )
        .setup(|s| {
            am(s);
            s.take("part", "part");
            for u in ["00000002", "00000004"] {
                s.truncate(&format!("part/checkpoints/update-{u}/model.mpk"), 0.5);
            }
        }),
        succeeds(
            "pretrain_resume_falls_back_past_truncated_checkpoint",
            &format!("pretrain --method jepa --data am --out part {TINY} --resume"),
            &["update-00000002|update 2"],
        )
        .setup(|s| {
            am(s);
            s.take("part", "part");
            s.truncate("part/checkpoints/update-00000004/model.mpk", 0.5);
        })
        .may_change(&["part"])
        .check(|s, _| {
            (s.read("part/encoder.safetensors") == std::fs::read(s.ctx.path("run/encoder.safetensors")).unwrap())
                .then_some(())
                .ok_or("resumed model differs from the uninterrupted run".into())
        }),
        succeeds(
            "pretrain_resume_falls_back_past_garbled_state",
            &format!("pretrain --method jepa --data am --out part {TINY} --resume"),
            &["update-00000002|update 2"],
        )
        .setup(|s| {
            am(s);
            s.take("part", "part");
            s.write("part/checkpoints/update-00000004/state.json", b"{\"update\": 4, \"rng\": [1, 2");
        })
        .may_change(&["part"]),
    ]
}

fn probe_cases() -> Vec<Case> {
    vec![
        fails("probe_missing_run", &probe("nope", "am", ""), E1, &["nope"]).setup(am),
        fails("probe_run_without_done", &probe("run", "am", "--out p"), E1, &["run", "DONE|not finished|unfinished|incomplete"]).setup(
            |s| {
                am_run(s);
                s.rm("run/DONE");
            },
        ),
        fails("probe_run_is_dataset", &probe("am", "am", "--out p"), E1, &["am", "config.toml|run.json|not a run"]).setup(am),
        fails("probe_channel_mismatch", &probe("run", "sf", "--out p"), E1, &["channel", "11", "4"]).setup(|s| {
            am_run(s);
            s.take("sf", "sf");
        }),
        fails("probe_field_names_mismatch", &probe("rbrun", "sf", "--out p"), E1, &["field|channel", "buoyancy|tracer"]).setup(|s| {
            s.take("rbrun", "rbrun");
            s.take("sf", "sf");
        }),
        fails("probe_resolution_17", &probe("run", "am", "--out p --resolution 17"), E12, &["--resolution|resolution", "17", "16"])
            .setup(am_run),
        fails("probe_resolution_0", &probe("run", "am", "--out p --resolution 0"), E12, &["--resolution|resolution"]).setup(am_run),
        fails("probe_fractions_out_of_range", &probe("run", "am", "--out p --fractions 0,2"), E12, &["fraction", "0"]).setup(am_run),
        fails("probe_fractions_text", &probe("run", "am", "--out p --fractions a,b"), E12, &["--fractions"]).setup(am_run),
        fails(
            "probe_unknown_probe",
            "probe --run run --data am --probe foo --fractions 1 --epochs 1 --no-plots --out p",
            E12,
            &["probe", "foo"],
        )
        .setup(am_run),
        fails("probe_missing_checkpoint", &probe("run", "am", "--checkpoint 999"), E1, &["checkpoint", "999"]).setup(am_run),
        fails("probe_checkpoint_negative", &probe("run", "am", "--checkpoint -1"), E2, &["--checkpoint"]).setup(am_run).lacks(DASH_TIP),
        fails("probe_init_and_checkpoint", &probe("run", "am", "--init --checkpoint 2"), E2, &["--init", "--checkpoint"]).setup(am_run),
        fails("probe_baseline_without_out", "probe --baseline stats --data am", E12, &["--out"]).setup(am),
        fails("probe_baseline_unknown", "probe --baseline foo --data am --out p", E2, &["--baseline", "foo"]).setup(am),
        fails(
            "probe_epochs_zero",
            "probe --run run --data am --probe attentive --fractions 1 --no-plots --out p --epochs 0",
            E12,
            &["epochs"],
        )
        .setup(am_run),
        fails("probe_batch_zero", &probe("run", "am", "--out p --batch 0"), E12, &["--batch"]).setup(am_run),
        fails("probe_noise_negative", &probe("run", "am", "--out p --noise -1"), E12, &["--noise"]).setup(am_run).lacks(DASH_TIP),
        fails("probe_noise_nan", &probe("run", "am", "--out p --noise nan"), E12, &["noise"]).setup(am_run),
        fails("probe_out_is_file", &probe("run", "am", "--out f.txt"), E1, &["f.txt"]).setup(|s| {
            am_run(s);
            s.write("f.txt", b"keep me");
        }),
        fails("probe_truncated_model", &probe("run", "am", "--out p"), E1, &["model.mpk", "truncated|corrupt"]).setup(|s| {
            am_run(s);
            s.truncate("run/model.mpk", 0.5);
        }),
        fails("probe_truncated_export", &probe("run", "am", "--out p"), E1, &["encoder.safetensors", "truncated|corrupt"]).setup(|s| {
            am_run(s);
            s.truncate("run/encoder.safetensors", 0.5);
        }),
        fails("probe_stale_export", &probe("run", "am", "--out p"), E1, &["encoder.safetensors", "other weights", "model.mpk"]).setup(
            |s| {
                am_run(s);
                s.write("run/encoder.safetensors", &std::fs::read(s.p("run/init-encoder.safetensors")).unwrap());
            },
        ),
        fails(
            "probe_truncated_checkpoint",
            &probe("run", "am", "--checkpoint 4 --out p"),
            E1,
            &["update-00000004", "model.mpk", "truncated|corrupt"],
        )
        .setup(|s| {
            am_run(s);
            s.truncate("run/checkpoints/update-00000004/model.mpk", 0.3);
        }),
        fails("probe_garbage_model", &probe("run", "am", "--out p"), E1, &["model.mpk", "corrupt|truncated"]).setup(|s| {
            am_run(s);
            s.write("run/model.mpk", &[0xAB; 4096]);
        }),
        fails("probe_malformed_run_config", &probe("run", "am", "--out p"), E1, &["config.toml"]).setup(|s| {
            am_run(s);
            s.write("run/config.toml", b"[method\nkind = ");
        }),
        fails("probe_missing_run_config", &probe("run", "am", "--out p"), E1, &["config.toml"]).setup(|s| {
            am_run(s);
            s.rm("run/config.toml");
        }),
        fails("probe_nan_in_test_split", &probe("run", "am", "--out p"), E1, &["zeta_17.0", "velocity", "trajectory", "frame"]).setup(
            |s| {
                am_run(s);
                h5::set_value(
                    &s.p("am/data/test/active_matter_L_10.0_zeta_17.0_alpha_-5.0.hdf5"),
                    "t1_fields/velocity",
                    &[1, 20, 0, 0, 0],
                    f32::NAN,
                );
            },
        ),
        succeeds("probe_without_test_split_reports_valid_only", &probe("run", "am", "--out p"), &[]).setup(|s| {
            am_run(s);
            s.rm("am/data/test");
        }),
        fails("probe_not_hdf5_in_valid", &probe("run", "am", "--out p"), E1, &["x.hdf5"]).setup(|s| {
            am_run(s);
            s.write("am/data/valid/x.hdf5", b"nope");
        }),
        succeeds("probe_skips_appledouble", &probe("run", "am", "--out p"), &[]).setup(|s| {
            am_run(s);
            s.write(&format!("am/data/valid/._{}", AM_V.rsplit('/').next().unwrap()), APPLEDOUBLE);
        }),
        fails("probe_noise_draws_zero", &probe("run", "am", "--out p --noise-draws 0"), E12, &["noise_draws|--noise-draws"]).setup(am_run),
        fails("probe_baseline_frames_zero", "probe --baseline stats --data am --out p --frames 0", E12, &["--frames|frames"]).setup(am),
    ]
}

fn other_commands() -> Vec<Case> {
    let preds = |s: &Scratch| am_run(s);
    vec![
        fails("compare_arm_without_name", "compare --a run/probe --b x=run/probe", E12, &["--a|arm", "NAME=DIR"]).setup(preds),
        fails("compare_arm_missing_dir", "compare --a a=nope --b b=run/probe", E1, &["nope"]).setup(preds),
        fails("compare_arm_without_predictions", "compare --a a=am --b b=run/probe", E1, &["am", "predictions"]).setup(preds),
        fails("compare_resamples_zero", "compare --a a=run/probe --b b=run/probe --resamples 0", E12, &["resample"]).setup(preds),
        fails("compare_fraction_out_of_range", "compare --a a=run/probe --b b=run/probe --fraction 2", E1, &["fraction|linear_2"])
            .setup(preds),
        fails("compare_same_dir_twice_in_an_arm", "compare --a a=run/probe,run/probe --b b=run/probe", E1, &["run/probe", "twice"])
            .setup(preds),
        fails("compare_garbled_predictions", "compare --a a=run/probe --b b=run/probe", E1, &["linear_1_test.csv"]).setup(|s| {
            am_run(s);
            s.write("run/probe/predictions/linear_1_test.csv", b"file,trajectory\n\"unterminated");
        }),
        fails("finetune_jepa_run", "finetune --run run --data am --epochs 1 --no-plots --out f", E1, &["mpp", "jepa"]).setup(am_run),
        fails("finetune_missing_run", "finetune --run nope --data am --epochs 1 --out f", E1, &["nope"]).setup(am),
        fails("finetune_epochs_zero", "finetune --run run --data am --epochs 0 --out f", E12, &["epochs"]).setup(am_run),
        fails("finetune_lr_negative", "finetune --run run --data am --lr -1 --out f", E12, &["--lr"]).setup(am_run).lacks(DASH_TIP),
        fails("finetune_micro_batch_zero", "finetune --run run --data am --micro-batch 0 --out f", E12, &["micro_batch|--micro-batch"])
            .setup(am_run),
        fails("summary_res_not_multiple", "summary --res 17", E12, &["--res", "16"]),
        fails("summary_res_zero", "summary --res 0", E12, &["--res"]),
        fails("summary_channels_zero", "summary --channels 0", E12, &["channels"]),
        fails("summary_unknown_method", "summary --method foo", E12, &["--method", "foo"]),
        fails("reproduce_unknown_preset", "reproduce --preset huge --out o", E12, &["preset", "huge"]).absent(&["o"]).timeout(30),
        fails("reproduce_unknown_system", "reproduce --preset smoke --out o --systems foo", E12, &["--systems|system", "foo"])
            .absent(&["o"])
            .timeout(30),
        fails("reproduce_unknown_method", "reproduce --preset smoke --out o --methods foo", E12, &["--methods|method", "foo"])
            .absent(&["o"])
            .timeout(30),
        fails("reproduce_seeds_zero", "reproduce --preset smoke --out o --seeds 0", E12, &["--seeds"]).absent(&["o"]).timeout(30),
        fails("reproduce_seeds_negative", "reproduce --preset smoke --out o --seeds -1", E2, &["--seeds"]).lacks(DASH_TIP).absent(&["o"]),
        fails("reproduce_out_is_file", "reproduce --preset smoke --out f.txt", E1, &["f.txt"])
            .setup(|s| s.write("f.txt", b"keep me"))
            .timeout(30),
        fails("reproduce_missing_well_dir", "reproduce --preset smoke --out o --well-dir nope", E1, &["nope"]).timeout(30),
        fails("unknown_subcommand", "frobnicate", E2, &["frobnicate"]),
    ]
}
