//! Surveys the physical check (`physrep_sim::checks`) over a preset's parameter grid without writing files:
//! `cargo run -p physrep-sim --example check_grid -- SYSTEM PRESET [ICS]` prints, per parameter point, the
//! check of its first ICS trajectories (default 2), the bounded scalars' ranges and the Nusselt numbers.

use physrep_sim::checks::check_point;
use physrep_sim::{generate, Preset};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (name, preset) = match (args.get(1), args.get(2)) {
        (Some(n), Some(p)) => (n.as_str(), p.parse::<Preset>()?),
        _ => return Err("usage: check_grid SYSTEM PRESET [ICS]".into()),
    };
    let ics: usize = args.get(3).map_or(Ok(2), |s| s.parse())?;
    let sys = generate::system(name)?;
    for p in sys.param_grid(preset) {
        let start = std::time::Instant::now();
        let c = check_point(sys.as_ref(), preset, &p, ics.min(sys.ics_per_point(preset)), 0)?;
        let ranges: Vec<String> = c.ranges.iter().map(|r| format!("{} [{:.3}, {:.3}]", r.field, r.min, r.max)).collect();
        let nu = match (c.nusselt_wall, c.nusselt_dissipation) {
            (Some(w), Some(d)) => format!(" Nu wall {w:.2} diss {d:.2}"),
            _ => String::new(),
        };
        println!("{:<55} {} {}{} ({:.1} s)", p.file_name, c.summary(), ranges.join(" "), nu, start.elapsed().as_secs_f64());
    }
    Ok(())
}
