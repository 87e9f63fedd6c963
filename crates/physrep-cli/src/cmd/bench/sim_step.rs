//! `physrep bench sim-step --system S --res N [--steps K] [--json]`: wall time per ETDRK4 step of a simulator
//! on an N×N compute grid (single thread), next to the cost of the FFTs one step performs (the floor of a
//! pseudo-spectral step). Rayleigh–Bénard's N×N is the doubled (odd/even-extended) grid, i.e. N×N/2 physical.
//! The solvers transform fields in pairs (`Fft2::inverse_pair_to_rows` / `forward_pair_from_rows`: two real
//! fields as `a + ib` in the physical pair buffer) and only on the box of modes the dealiasing rule keeps
//! (`Fft2::dealiased`: 2/3 rule for the flows, 1/2 for Gray–Scott; `band` spectral columns and the kept rows),
//! so the floor is timed the same way: dealiased pair transforms, as many inverse and forward pairs as one
//! step performs;
//! `ms_per_fft` is that floor over the number of single 2-D transforms (`ffts_per_step`).

use std::time::Instant;

use physrep_sim::gray_scott::{GrayScottConfig, GrayScottIc, GrayScottSolver};
use physrep_sim::rayleigh_benard::{RayleighBenardConfig, RayleighBenardSolver};
use physrep_sim::shear_flow::{ShearFlowConfig, ShearFlowIc, ShearFlowSolver};
use physrep_sim::spectral::{Complex64, Dealias, Fft2, Grid2};

/// Arguments of `physrep bench sim-step`.
#[derive(clap::Args)]
pub struct Args {
    /// shear_flow, rayleigh_benard or gray_scott_reaction_diffusion.
    #[arg(long)]
    pub system: String,
    /// Grid size N (N×N compute grid).
    #[arg(long, default_value_t = 128)]
    pub res: usize,
    /// Steps to time (after one warm-up frame).
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let n = args.res;
    let steps = args.steps.max(1);
    // (seconds per step, (inverse, forward) pair transforms per step, dealiasing rule of the solver's transforms)
    let (per_step, [inv_pairs, fwd_pairs], dealias) = match args.system.as_str() {
        "shear_flow" => {
            let cfg = ShearFlowConfig { nx: n, ny: n, out_nx: n, out_ny: n, min_substeps: steps, cfl: 1e9, ..ShearFlowConfig::default() };
            let mut s = ShearFlowSolver::new(&cfg, 1e4, 1.0, ShearFlowIc::from_index(7))?;
            s.advance_frame().map_err(anyhow::Error::msg)?;
            let t = Instant::now();
            s.advance_frame().map_err(anyhow::Error::msg)?;
            // per stage: velocity (1 inverse pair) + advection of 2 fields (2 inverse pairs, 1 forward pair)
            (t.elapsed().as_secs_f64() / steps as f64, [4 * 3, 4], Dealias::TwoThirds)
        }
        "rayleigh_benard" => {
            let cfg = RayleighBenardConfig {
                nx: n,
                ny: n / 2,
                out_nx: n,
                out_ny: n / 2,
                min_substeps: steps,
                cfl: 1e9,
                ..RayleighBenardConfig::default()
            };
            let mut s = RayleighBenardSolver::new(&cfg, 1e6, 1.0, 0.6, 1)?;
            s.advance_frame().map_err(anyhow::Error::msg)?;
            let t = Instant::now();
            s.advance_frame().map_err(anyhow::Error::msg)?;
            (t.elapsed().as_secs_f64() / steps as f64, [4 * 3, 4], Dealias::TwoThirds)
        }
        "gray_scott_reaction_diffusion" => {
            let cfg = GrayScottConfig { n, dt_out: steps as f64, dt: 1.0, ..GrayScottConfig::default() };
            let mut s = GrayScottSolver::new(&cfg, 0.03, 0.062, GrayScottIc::Gaussians, 1)?;
            s.advance_frame().map_err(anyhow::Error::msg)?;
            let t = Instant::now();
            s.advance_frame().map_err(anyhow::Error::msg)?;
            // per stage: 1 inverse pair + 1 forward pair
            (t.elapsed().as_secs_f64() / steps as f64, [4, 4], Dealias::Half)
        }
        other => anyhow::bail!("bench sim-step: unknown system `{other}` (shear_flow, rayleigh_benard, gray_scott_reaction_diffusion)"),
    };
    let grid = Grid2::new(n, n, 1.0, 1.0)?;
    let band = grid.dealias_band(dealias);
    let mut fft = Fft2::dealiased(&grid, dealias);
    let phys: Vec<f64> = (0..grid.n_phys()).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
    let phys2: Vec<f64> = phys.iter().rev().copied().collect();
    let mut spec = vec![Complex64::default(); grid.n_spec()];
    let mut spec2 = spec.clone();
    let reps = 100;
    let t = Instant::now();
    for _ in 0..reps {
        for ((z, a), b) in fft.pair_rows_mut().iter_mut().zip(&phys).zip(&phys2) {
            *z = Complex64::new(*a, *b);
        }
        fft.forward_pair_from_rows(&mut spec, &mut spec2);
    }
    let per_fwd_pair = t.elapsed().as_secs_f64() / reps as f64;
    let t = Instant::now();
    for _ in 0..reps {
        fft.inverse_pair_to_rows(&spec, &spec2);
    }
    let per_inv_pair = t.elapsed().as_secs_f64() / reps as f64;
    let fft_floor = per_inv_pair * inv_pairs as f64 + per_fwd_pair * fwd_pairs as f64;
    let ffts_per_step = 2 * (inv_pairs + fwd_pairs);
    let per_fft = fft_floor / ffts_per_step as f64;
    if args.json {
        println!(
            "{{\"system\":\"{}\",\"res\":{n},\"ms_per_step\":{:.4},\"fft_ms_per_step\":{:.4},\"ffts_per_step\":{ffts_per_step},\"ms_per_fft\":{:.5},\"fft_band\":{band}}}",
            args.system,
            per_step * 1e3,
            fft_floor * 1e3,
            per_fft * 1e3
        );
    } else {
        println!("system   {}", args.system);
        println!("grid     {n}x{n}");
        println!("step     {:.3} ms", per_step * 1e3);
        println!("band     {band} of {} spectral columns", grid.nyh());
        println!(
            "FFTs     {inv_pairs} inverse pairs x {:.4} ms + {fwd_pairs} forward pairs x {:.4} ms = {:.3} ms ({:.0} % of the step)",
            per_inv_pair * 1e3,
            per_fwd_pair * 1e3,
            fft_floor * 1e3,
            100.0 * fft_floor / per_step
        );
    }
    Ok(())
}
