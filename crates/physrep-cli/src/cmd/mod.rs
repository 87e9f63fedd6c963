//! One module per subcommand: each defines `Args` (clap) and `run(Args) -> anyhow::Result<()>`.

pub mod bench;
pub mod compare;
pub mod finetune;
pub mod inspect;
pub mod plot_sample;
pub mod pretrain;
pub mod probe;
pub mod reproduce;
pub mod simulate;
pub mod stats;
pub mod summary;

/// The value parser of a count that must be at least 1 (`--epochs`, `--batch`, `--resolution`, …): clap
/// refuses 0 and negative values naming the argument and the range.
pub fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// The value parser of a positive finite number (`--lr`).
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a finite number > 0")),
        Err(e) => Err(e.to_string()),
    }
}

/// The value parser of a non-negative finite number (`--noise`).
pub fn non_negative(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a finite number ≥ 0")),
        Err(e) => Err(e.to_string()),
    }
}
