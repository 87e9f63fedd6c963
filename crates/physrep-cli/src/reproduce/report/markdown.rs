//! `REPORT.md`: the study rendered as Markdown, one function a section, in the order they appear.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    comparison_paragraph, fmt_ms, fmt_test, identifiable, main_probe, main_rows, mean_std, paper_table1, paper_table2, ResultRow, Study,
};

/// The whole of `REPORT.md`.
pub(super) fn markdown(study: &Study) -> String {
    let mut s = String::new();
    header(&mut s, study);
    if !study.comparisons.is_empty() {
        comparisons(&mut s, study);
    }
    table1(&mut s, study);
    other_probes(&mut s, study);
    per_parameter(&mut s, study);
    table2(&mut s, study);
    learning_curves(&mut s, study);
    let _ = writeln!(s, "\n## Where our ranking agrees or disagrees with the paper's\n");
    s.push_str(&comparison_paragraph(study));
    figures(&mut s, study);
    stages(&mut s, study);
    s
}

/// Ridge-probe test MSE of each curve's run at its initial weights and every kept checkpoint.
fn learning_curves(s: &mut String, study: &Study) {
    if study.curves.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Learning curves\n\nRidge-probe test MSE of the first seed's run at its initial weights (0) and after each \
         kept number of pretraining updates; the floor predicts the train-split mean label.\n"
    );
    let _ = writeln!(s, "| system | method | floor | updates: test MSE |\n|---|---|---|---|");
    for c in &study.curves {
        let points: Vec<String> = c.points.iter().map(|(u, _, t)| format!("{u}: {t:.3}")).collect();
        let _ = writeln!(s, "| {} | {} | {:.3} | {} |", c.system, c.method, c.floor_test, points.join(", "));
    }
}

/// Title, what ran (preset, data, systems, methods, seeds, wall time) and what the metric means.
fn header(s: &mut String, study: &Study) {
    let _ = writeln!(s, "# physrep study report\n");
    let cached = study.stages.iter().filter(|st| st.cached).count();
    let wall = if cached == 0 {
        format!("Total wall time {:.1} min.", study.total_wall_s / 60.0)
    } else {
        let stages_s: f64 = study.stages.iter().map(|st| st.wall_s).sum();
        format!(
            "Wall time of this invocation {:.1} min; {cached} of {} stages were reused from an earlier run, and all stages took {:.1} min when they ran.",
            study.total_wall_s / 60.0,
            study.stages.len(),
            stages_s / 60.0
        )
    };
    let _ = writeln!(
        s,
        "Preset `{}`, data: {}. Systems: {}. Methods: {}. Pretraining seeds: {:?}. {wall}\n",
        study.preset,
        study.data_source,
        study.systems.join(", "),
        study.methods.join(", "),
        study.seeds,
    );
    let _ = writeln!(
        s,
        "Metric: mean squared error on z-scored physical parameters, averaged over the label columns \
         (1.0 ≈ predicting the grid mean). Every encoder is frozen and probed with the paper's attentive probe, except \
         MPP, which the paper fine-tunes end to end: where the plan fine-tunes it, MPP's Table 1 row is probe `finetune` \
         (AViT + attentive head on the last time step's tokens, Adam with ReduceLROnPlateau, valid and test reported \
         at the epoch of lowest valid MSE) and its frozen attentive probe is listed under the other probes. \
         `± ` is the sample standard deviation over pretraining seeds; with one seed, `[lo, hi]` is the 95 % \
         interval of the test MSE from a bootstrap over test trajectories (the probe's sampling noise, not the pretraining seed's). \
         The floor predicts the train-split mean label.\n"
    );
}

/// Paired comparisons per system, with its identifiability verdict (only when there are comparisons).
fn comparisons(s: &mut String, study: &Study) {
    let _ = writeln!(s, "## Comparisons\n");
    let _ = writeln!(
        s,
        "Test-MSE ratio A / B (each arm's MSE averaged over its seeds) with a 95 % interval from a paired, \
         hierarchical bootstrap: seeds resampled (jointly where both arms ran the same seeds), then parameter \
         points, one draw shared by both arms.\n"
    );
    for system in &study.systems {
        match identifiable(study, system) {
            Some(by) if !by.is_empty() => {
                let _ = writeln!(s, "**{system}** (identifiable: the test interval of {} lies below the floor)\n", by.join(" and "));
            }
            Some(_) => {
                let _ = writeln!(
                    s,
                    "**{system}: not identifiable at this resolution** (neither the supervised ceiling nor the trivial \
                     statistics beat the floor; the comparisons below are not evidence either way)\n"
                );
            }
            None => {
                let _ = writeln!(s, "**{system}**\n");
            }
        }
        for c in study.comparisons.iter().filter(|c| &c.system == system) {
            let per_seed: Vec<String> = c.per_seed.iter().map(|r| format!("{}: {:.3}", r.seed, r.ratio)).collect();
            let per_seed = if per_seed.is_empty() { String::new() } else { format!(" Per-seed ratios {}.", per_seed.join(", ")) };
            let _ = writeln!(s, "- {}.{per_seed}", c.sentence());
        }
        s.push('\n');
    }
}

/// Table 1: MSE of the main probe per system × method, with the floor and the paper.
fn table1(s: &mut String, study: &Study) {
    let _ = writeln!(s, "## Table 1: parameter-estimation MSE\n");
    let _ = writeln!(s, "| system | method | probe | valid MSE | test MSE | floor (valid / test) | paper (valid) |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for system in &study.systems {
        for method in &study.methods {
            let probe = main_probe(&study.rows, system, method);
            let rows = main_rows(&study.rows, system, method);
            if rows.is_empty() {
                continue;
            }
            let v: Vec<f64> = rows.iter().map(|r| r.valid_mse).collect();
            let fv = rows[0].floor_valid;
            let ft = rows[0].floor_test;
            let paper = paper_table1(system, method).map_or("—".to_string(), |p| format!("{p}"));
            let _ = writeln!(s, "| {system} | {method} | {probe} | {} | {} | {fv:.3} / {ft:.3} | {paper} |", fmt_ms(&v), fmt_test(&rows));
        }
    }
}

/// Probes other than each method's main one (frozen encoders).
fn other_probes(s: &mut String, study: &Study) {
    let others: Vec<&ResultRow> = study.rows.iter().filter(|r| r.probe != main_probe(&study.rows, &r.system, &r.method)).collect();
    if !others.is_empty() {
        let _ = writeln!(s, "\n### Other probes (frozen encoders)\n");
        let _ = writeln!(s, "| system | method | probe | valid MSE | test MSE |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        let mut g: BTreeMap<(String, String, String), Vec<&ResultRow>> = BTreeMap::new();
        for r in others {
            g.entry((r.system.clone(), r.method.clone(), r.probe.clone())).or_default().push(r);
        }
        for ((system, method, probe), rows) in g {
            let v: Vec<f64> = rows.iter().map(|r| r.valid_mse).collect();
            let _ = writeln!(s, "| {system} | {method} | {probe} | {} | {} |", fmt_ms(&v), fmt_test(&rows));
        }
    }
}

/// Test MSE per label column (main probe, mean over seeds).
fn per_parameter(s: &mut String, study: &Study) {
    let _ = writeln!(s, "\n### Per-parameter test MSE (main probe, mean over seeds)\n");
    let _ = writeln!(s, "| system | method | per parameter |");
    let _ = writeln!(s, "|---|---|---|");
    for system in &study.systems {
        for method in &study.methods {
            let rows = main_rows(&study.rows, system, method);
            if rows.is_empty() {
                continue;
            }
            let names = &rows[0].label_names;
            let cells: Vec<String> = (0..names.len())
                .map(|i| {
                    let xs: Vec<f64> = rows.iter().filter_map(|r| r.test_per_param.get(i).copied()).collect();
                    format!("{} {:.3}", names[i], mean_std(&xs).0)
                })
                .collect();
            let _ = writeln!(s, "| {system} | {method} | {} |", cells.join(", "));
        }
    }
}

/// Table 2: data efficiency (main probe trained on fractions of its windows).
fn table2(s: &mut String, study: &Study) {
    let _ = writeln!(s, "\n## Table 2: data efficiency (main probe trained on a fraction of its windows)\n");
    let fractions: Vec<f64> = {
        let mut f: Vec<f64> = study.rows.iter().flat_map(|r| r.fractions.iter().map(|x| x.0)).collect();
        f.sort_by(f64::total_cmp);
        f.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        f
    };
    if fractions.is_empty() {
        let _ = writeln!(s, "No data-efficiency runs in this preset.");
    } else {
        let header: Vec<String> = fractions.iter().map(|f| format!("{:.0} % (valid / test)", f * 100.0)).collect();
        let _ = writeln!(s, "| system | method | {} | paper SF (10/50/100 %) |", header.join(" | "));
        let _ = writeln!(s, "|---|---|{}---|", "---|".repeat(fractions.len()));
        for system in &study.systems {
            for method in &study.methods {
                let rows = main_rows(&study.rows, system, method);
                if rows.is_empty() || rows.iter().all(|r| r.fractions.is_empty()) {
                    continue;
                }
                let cells: Vec<String> = fractions
                    .iter()
                    .map(|f| {
                        let pick = |k: usize| -> Vec<f64> {
                            rows.iter()
                                .filter_map(|r| r.fractions.iter().find(|x| (x.0 - f).abs() < 1e-12))
                                .map(|x| if k == 0 { x.1 } else { x.2 })
                                .collect()
                        };
                        format!("{} / {}", fmt_ms(&pick(0)), fmt_ms(&pick(1)))
                    })
                    .collect();
                let paper = if system == "shear_flow" {
                    [0.1, 0.5, 1.0]
                        .iter()
                        .map(|f| paper_table2(method, *f).map_or("—".into(), |v| format!("{v}")))
                        .collect::<Vec<_>>()
                        .join(" / ")
                } else {
                    "—".into()
                };
                let _ = writeln!(s, "| {system} | {method} | {} | {paper} |", cells.join(" | "));
            }
        }
    }
}

/// Figures, with their captions.
fn figures(s: &mut String, study: &Study) {
    if !study.figures.is_empty() {
        let _ = writeln!(s, "\n## Figures\n");
        for (caption, path) in &study.figures {
            let _ = writeln!(s, "- {caption}: ![{caption}]({path})");
        }
    }
}

/// Wall time and peak memory per stage.
fn stages(s: &mut String, study: &Study) {
    let _ = writeln!(s, "\n## Wall time and peak memory per stage\n");
    let _ = writeln!(s, "| stage | wall time (s) | peak RSS (MiB) | cached |");
    let _ = writeln!(s, "|---|---|---|---|");
    for st in &study.stages {
        let _ = writeln!(s, "| {} | {:.1} | {:.0} | {} |", st.stage, st.wall_s, st.peak_rss_mb, if st.cached { "yes" } else { "no" });
    }
}
