//! VICReg and BCS against direct float64 loops on small random inputs.

use burn::prelude::*;
use physrep_nn::Cpu;
use physrep_train::objectives::bcs::{bcs_rows, projection};
use physrep_train::objectives::vicreg::{chunk_sizes, permutation, token_rows, vicreg_rows};
use physrep_train::objectives::{vicreg, BcsConfig, VicregConfig};

fn rows(t: Tensor<Cpu, 2>) -> Vec<Vec<f64>> {
    let [n, c] = t.dims();
    let v: Vec<f32> = t.into_data().to_vec().unwrap();
    (0..n).map(|i| (0..c).map(|j| f64::from(v[i * c + j])).collect()).collect()
}

fn scalar(t: Tensor<Cpu, 1>) -> f64 {
    f64::from(t.into_scalar())
}

/// The paper's formula written out with loops: returns (loss, repr, std_x, std_y, cov_x, cov_y).
fn vicreg_oracle(x: &[Vec<f64>], y: &[Vec<f64>], perm: &[usize], chunks: usize) -> [f64; 6] {
    let c = x[0].len();
    let xs: Vec<&Vec<f64>> = perm.iter().map(|&i| &x[i]).collect();
    let ys: Vec<&Vec<f64>> = perm.iter().map(|&i| &y[i]).collect();
    let size = x.len().div_ceil(chunks);
    let stats = |m: &[&Vec<f64>]| -> (f64, f64) {
        let n = m.len();
        let mean: Vec<f64> = (0..c).map(|j| m.iter().map(|r| r[j]).sum::<f64>() / n as f64).collect();
        let mut std = 0.0;
        for j in 0..c {
            let var = m.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n as f64;
            std += (1.0 - (var + 1e-4).sqrt()).max(0.0);
        }
        let mut cov = 0.0;
        for a in 0..c {
            for b in 0..c {
                if a != b {
                    let k = m.iter().map(|r| (r[a] - mean[a]) * (r[b] - mean[b])).sum::<f64>() / (n.max(2) - 1) as f64;
                    cov += k * k;
                }
            }
        }
        (std / c as f64 / 2.0, cov / c as f64)
    };
    let mut acc = [0.0; 6];
    let mut k = 0.0;
    for (cx, cy) in xs.chunks(size).zip(ys.chunks(size)) {
        let n = cx.len();
        let repr =
            cx.iter().zip(cy).map(|(a, b)| a.iter().zip(b.iter()).map(|(u, v)| (u - v).powi(2)).sum::<f64>()).sum::<f64>() / (n * c) as f64;
        let (sx, kx) = stats(cx);
        let (sy, ky) = stats(cy);
        let loss = 2.0 * repr + 40.0 * (sx + sy) + 2.0 * (kx + ky);
        for (a, v) in acc.iter_mut().zip([loss, repr, sx, sy, kx, ky]) {
            *a += v;
        }
        k += 1.0;
    }
    acc.map(|a| a / k)
}

#[test]
fn chunking_follows_torch_chunk() {
    assert_eq!(chunk_sizes(1568, 5), vec![314, 314, 314, 314, 312]);
    assert_eq!(chunk_sizes(128, 5), vec![26, 26, 26, 26, 24]);
    assert_eq!(chunk_sizes(32, 5), vec![7, 7, 7, 7, 4]);
    assert_eq!(chunk_sizes(6, 5), vec![2, 2, 2]); // fewer chunks than asked, like torch.chunk
    assert_eq!(chunk_sizes(3, 5), vec![1, 1, 1]);
}

#[test]
fn permutation_is_seeded() {
    let p = permutation(100, 9);
    let mut s = p.clone();
    s.sort();
    assert_eq!(s, (0..100).collect::<Vec<_>>());
    assert_eq!(p, permutation(100, 9));
    assert_ne!(p, permutation(100, 10));
}

#[test]
fn vicreg_matches_float64_loops() {
    let dev = Default::default();
    // N = 2·3·3 = 18 rows → chunks 4,4,4,4,2; and N = 6 → 3 chunks of 2; and 1-row chunks.
    for (b, c, h, w) in [(2, 6, 3, 3), (1, 5, 2, 3), (1, 4, 1, 3)] {
        let p = physrep_nn::seeded::normal::<Cpu, 4>([b, c, h, w], 0.0, 0.7, 186, &dev);
        let t = physrep_nn::seeded::normal::<Cpu, 4>([b, c, h, w], 0.2, 1.3, 287, &dev);
        let n = b * h * w;
        let perm = permutation(n, 42);
        let got = vicreg_rows(token_rows(p.clone()), token_rows(t.clone()), &perm, &VicregConfig::default());
        let want = vicreg_oracle(&rows(token_rows(p.clone())), &rows(token_rows(t.clone())), &perm, 5);
        let ours = [got.loss, got.repr_loss, got.std_loss_x, got.std_loss_y, got.cov_loss_x, got.cov_loss_y].map(scalar);
        for (i, (o, w)) in ours.iter().zip(want).enumerate() {
            assert!((o - w).abs() <= 1e-5 * w.abs().max(1e-3), "shape {:?} term {i}: {o} vs {w}", (b, c, h, w));
        }
        // The seeded entry point draws the same permutation.
        let seeded = vicreg(p, t, 42, &VicregConfig::default());
        assert_eq!(scalar(seeded.loss), ours[0]);
    }
}

#[test]
fn vicreg_rows_are_b_h_w_ordered() {
    let dev = Default::default();
    let x = Tensor::<Cpu, 1, Int>::arange(0..24, &dev).float().reshape([2, 3, 2, 2]);
    let r = rows(token_rows(x));
    // Row (b=1, h=0, w=1) = 1·4 + 0·2 + 1 = 5 holds x[1, c, 0, 1] = 12 + 4c + 1.
    assert_eq!(r[5], vec![13.0, 17.0, 21.0]);
}

/// Direct float64 Epps–Pulley with the same projection.
fn bcs_oracle(x: &[Vec<f64>], y: &[Vec<f64>], a: &[Vec<f64>], cfg: &BcsConfig) -> (f64, f64, f64) {
    let (b, d) = (x.len(), x[0].len());
    let s = a[0].len();
    let m = cfg.num_points;
    let dt = 2.0 * cfg.t_max / (m - 1) as f64;
    let ep = |v: &[Vec<f64>]| -> f64 {
        let mut total = 0.0;
        for k in 0..s {
            let z: Vec<f64> = (0..b).map(|i| (0..d).map(|j| v[i][j] * a[j][k]).sum()).collect();
            let mut integral = 0.0;
            for jt in 0..m {
                let t = -cfg.t_max + jt as f64 * dt;
                let phi = (-t * t / 2.0).exp();
                let re = z.iter().map(|z| (z * t).cos()).sum::<f64>() / b as f64;
                let im = z.iter().map(|z| (z * t).sin()).sum::<f64>() / b as f64;
                let wt = if jt == 0 || jt == m - 1 { 0.5 * dt } else { dt };
                integral += wt * phi * ((re - phi).powi(2) + im * im);
            }
            total += integral;
        }
        total / s as f64
    };
    let sim = x.iter().zip(y).map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u - v).powi(2)).sum::<f64>()).sum::<f64>() / (b * d) as f64;
    let (ex, ey) = (ep(x), ep(y));
    (cfg.sim_coeff * sim + cfg.bcs_coeff * (ex + ey) / 2.0, ex, ey)
}

#[test]
fn bcs_matches_float64_loops_and_redraws_projections() {
    let dev = Default::default();
    let cfg = BcsConfig { num_slices: 16, ..Default::default() };
    let x = physrep_nn::seeded::normal::<Cpu, 2>([6, 10], 0.0, 1.0, 347, &dev);
    let y = physrep_nn::seeded::normal::<Cpu, 2>([6, 10], 0.5, 2.0, 448, &dev);
    let a = projection::<Cpu>(10, 16, 7, &dev);
    // Unit-norm columns.
    let norms: Vec<f32> = a.clone().square().sum_dim(0).sqrt().into_data().to_vec().unwrap();
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5));
    let got = bcs_rows(x.clone(), y.clone(), a.clone(), &cfg);
    let (loss, ex, ey) = bcs_oracle(&rows(x), &rows(y), &rows(a), &cfg);
    for (o, w) in [(scalar(got.loss), loss), (scalar(got.ep_x), ex), (scalar(got.ep_y), ey)] {
        assert!((o - w).abs() <= 1e-5 * w.abs().max(1e-3), "{o} vs {w}");
    }
    // Fresh projections per seed; the fixed flag ignores the seed.
    let p = physrep_nn::seeded::normal::<Cpu, 4>([4, 3, 2, 2], 0.0, 1.0, 559, &dev);
    let t = physrep_nn::seeded::normal::<Cpu, 4>([4, 3, 2, 2], 0.0, 1.0, 660, &dev);
    let l = |seed, fixed| {
        let cfg = BcsConfig { num_slices: 8, fixed_projection: fixed, ..Default::default() };
        scalar(physrep_train::objectives::bcs(p.clone(), t.clone(), seed, &cfg).loss)
    };
    assert_ne!(l(1, false), l(2, false));
    assert_eq!(l(1, true), l(2, true));
    assert_eq!(l(3, false), l(3, false));
}
