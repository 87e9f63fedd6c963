//! Progress of long work, readable both on a terminal and in a log file.
//!
//! On a terminal, a bar with position, rate and ETA (indicatif). When stderr is not a terminal — a run
//! under `nohup`, a CI job, `physrep … 2> run.log` — a bar would print nothing until the end, so a
//! [`Progress`] writes one plain line instead every `PHYSREP_LOG_EVERY_S` seconds (default 30) and
//! one when the work ends:
//!
//! ```text
//! pretrain: 120/400 updates (3.2/s, ETA 1m 28s) loss 0.8123
//! pretrain: 400/400 updates in 2m 05s
//! ```
//!
//! The counter is thread-safe: simulation threads advance one bar together.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Seconds between two log lines when stderr is not a terminal (env `PHYSREP_LOG_EVERY_S`).
pub const LOG_EVERY_ENV: &str = "PHYSREP_LOG_EVERY_S";

/// Where progress goes.
pub enum Mode {
    /// Nothing shown.
    Hidden,
    /// An indicatif bar on stderr.
    Bar,
    /// A line every `every` into the sink (stderr in practice; a buffer in tests).
    Log { every: Duration, sink: Box<dyn Write + Send> },
}

impl Mode {
    /// The mode for work shown when `show`: a bar on a terminal, log lines otherwise.
    pub fn detect(show: bool) -> Self {
        if !show {
            Mode::Hidden
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            let secs = std::env::var(LOG_EVERY_ENV).ok().and_then(|v| v.trim().parse::<f64>().ok()).filter(|s| *s >= 0.0);
            Mode::Log { every: Duration::from_secs_f64(secs.unwrap_or(30.0)), sink: Box::new(std::io::stderr()) }
        }
    }
}

/// A counter of `len` units of work with a label (`pretrain`, `embedding`, `rayleigh_benard`).
pub struct Progress {
    bar: ProgressBar,
    label: String,
    unit: &'static str,
    log: Option<Mutex<LogState>>,
}

struct LogState {
    every: Duration,
    sink: Box<dyn Write + Send>,
    last: Instant,
}

impl Progress {
    /// A bar or a logger (see [`Mode::detect`]) for `len` units named `unit`.
    pub fn new(len: u64, label: impl Into<String>, unit: &'static str, show: bool) -> Self {
        Self::with_mode(len, label, unit, Mode::detect(show))
    }

    /// As [`Progress::new`] with an explicit mode.
    pub fn with_mode(len: u64, label: impl Into<String>, unit: &'static str, mode: Mode) -> Self {
        let label = label.into();
        let (bar, log) = match mode {
            Mode::Hidden => (ProgressBar::hidden(), None),
            Mode::Bar => {
                let bar = ProgressBar::new(len);
                let template = format!("{label} {{bar:30}} {{pos}}/{{len}} {unit} {{msg}} [{{elapsed_precise}} < {{eta}}, {{per_sec}}]");
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    bar.set_style(style);
                }
                (bar, None)
            }
            Mode::Log { every, sink } => {
                let bar = ProgressBar::hidden();
                bar.set_length(len);
                (bar, Some(Mutex::new(LogState { every, sink, last: Instant::now() })))
            }
        };
        Progress { bar, label, unit, log }
    }

    /// A counter that shows nothing.
    pub fn hidden() -> Self {
        Self::with_mode(0, "", "", Mode::Hidden)
    }

    /// Advance by `n` units.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.maybe_log(false);
    }

    /// Jump to `pos` units (a resumed run starts where it stopped).
    pub fn set_position(&self, pos: u64) {
        self.bar.set_position(pos);
    }

    /// Change the total.
    pub fn set_length(&self, len: u64) {
        self.bar.set_length(len);
    }

    /// The total.
    pub fn length(&self) -> Option<u64> {
        self.bar.length()
    }

    /// Units done.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// A short status shown after the counter (e.g. the current loss).
    pub fn set_message(&self, msg: impl Into<String>) {
        self.bar.set_message(msg.into());
    }

    /// The work ended: the bar stays on screen; the log gets a last line with the total time.
    pub fn finish(&self) {
        self.bar.finish();
        self.maybe_log(true);
    }

    /// The work ended and its bar is removed from the screen; the log gets a last line.
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
        self.maybe_log(true);
    }

    /// The work stopped early (e.g. `--stop-after`): the bar stays as it is; the log gets a last line.
    pub fn abandon(&self) {
        self.bar.abandon();
        self.maybe_log(true);
    }

    fn maybe_log(&self, last: bool) {
        let Some(log) = &self.log else { return };
        let Ok(mut state) = log.lock() else { return };
        if !last && state.last.elapsed() < state.every {
            return;
        }
        state.last = Instant::now();
        let line = self.line(last);
        // A log that cannot be written must not stop the work it reports on.
        let _ = writeln!(state.sink, "{line}");
        let _ = state.sink.flush();
    }

    /// The log line: `label: pos/len unit (rate/s, ETA t) msg`, or `label: pos/len unit in t msg` at the end.
    fn line(&self, last: bool) -> String {
        let (pos, len) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let msg = self.bar.message();
        let tail = if msg.is_empty() { String::new() } else { format!(" {msg}") };
        if last {
            format!("{}: {pos}/{len} {} in {}{tail}", self.label, self.unit, human(self.bar.elapsed()))
        } else {
            let rate = self.bar.per_sec();
            let eta = if rate > 0.0 { human(Duration::from_secs_f64(len.saturating_sub(pos) as f64 / rate)) } else { "?".into() };
            format!("{}: {pos}/{len} {} ({rate:.2}/s, ETA {eta}){tail}", self.label, self.unit)
        }
    }
}

/// `1h 02m`, `2m 05s`, `7.3s`.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 {
        format!("{}h {:02}m", (s / 3600.0) as u64, ((s % 3600.0) / 60.0) as u64)
    } else if s >= 60.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A sink the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(s: &Shared) -> Vec<String> {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn a_log_gets_periodic_lines_and_a_final_one() {
        let sink = Shared::default();
        let p = Progress::with_mode(4, "pretrain", "updates", Mode::Log { every: Duration::ZERO, sink: Box::new(sink.clone()) });
        p.set_message("loss 0.5");
        p.inc(1);
        p.inc(3);
        p.finish();
        let got = lines(&sink);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].starts_with("pretrain: 1/4 updates (") && got[0].contains("/s, ETA ") && got[0].ends_with(" loss 0.5"), "{got:?}");
        assert!(got[1].starts_with("pretrain: 4/4 updates ("), "{got:?}");
        assert!(got[2].starts_with("pretrain: 4/4 updates in ") && got[2].ends_with("s loss 0.5"), "{got:?}");
    }

    #[test]
    fn lines_are_spaced_by_the_interval_and_hidden_shows_nothing() {
        let sink = Shared::default();
        let p =
            Progress::with_mode(100, "sim", "trajectories", Mode::Log { every: Duration::from_secs(3600), sink: Box::new(sink.clone()) });
        for _ in 0..100 {
            p.inc(1);
        }
        assert!(lines(&sink).is_empty(), "no line before the interval");
        p.abandon();
        let got = lines(&sink);
        assert!(got.len() == 1 && got[0].starts_with("sim: 100/100 trajectories in ") && got[0].ends_with('s'), "{got:?}");
        let h = Progress::hidden();
        h.inc(5);
        h.finish();
        assert_eq!(h.position(), 5);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_secs_f64(7.3)), "7.3s");
        assert_eq!(human(Duration::from_secs(125)), "2m 05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h 02m");
    }
}
