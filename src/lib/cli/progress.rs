//! A one-line transfer progress display for long uploads and downloads (`storm jar`): shown on stderr
//! only when stderr is a terminal, silent otherwise (logs, pipes, tests).
//!
//! The line is redrawn in place (`\r`) at most every [`REDRAW`] and ends with a newline when the
//! transfer finishes. Hand-rolled on purpose: one line of text does not need a dependency.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Minimum time between two redraws.
pub const REDRAW: Duration = Duration::from_millis(100);

/// A progress line for one transfer.
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: u64,
    enabled: bool,
    started: Instant,
    last_draw: Option<Instant>,
    width: usize,
}

impl Progress {
    /// A progress line for `label` (e.g. `uploading word_count`) of `total` bytes (when known); drawn only
    /// when stderr is a terminal.
    pub fn new(label: impl Into<String>, total: Option<u64>) -> Progress {
        Progress::with_enabled(label, total, std::io::stderr().is_terminal())
    }

    /// As [`Progress::new`], with the terminal check decided by the caller (tests, `--quiet`).
    pub fn with_enabled(label: impl Into<String>, total: Option<u64>, enabled: bool) -> Progress {
        Progress {
            label: label.into(),
            total,
            done: 0,
            enabled,
            started: Instant::now(),
            last_draw: None,
            width: 0,
        }
    }

    /// Whether anything is drawn.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Bytes transferred so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Records `n` more bytes and redraws when the last redraw is old enough.
    pub fn inc(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        if self.enabled && self.last_draw.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        if self.enabled {
            self.draw();
            let _ = writeln!(std::io::stderr());
            self.enabled = false;
        }
    }

    /// Clears the line without a final state (the transfer failed; the error says why).
    pub fn abandon(&mut self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r{:width$}\r", "", width = self.width);
            self.enabled = false;
        }
    }

    /// The text of the line as it is now.
    pub fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = format!("{}/s", human_bytes((self.done as f64 / secs) as u64));
        match self.total {
            Some(total) if total > 0 => format!(
                "{}: {} / {} ({:>3}%) {rate}",
                self.label,
                human_bytes(self.done),
                human_bytes(total),
                (self.done.min(total) * 100) / total
            ),
            _ => format!("{}: {} {rate}", self.label, human_bytes(self.done)),
        }
    }

    fn draw(&mut self) {
        let line = self.line();
        let pad = self.width.saturating_sub(line.chars().count());
        self.width = self.width.max(line.chars().count());
        let _ = write!(std::io::stderr(), "\r{line}{:pad$}", "");
        let _ = std::io::stderr().flush();
        self.last_draw = Some(Instant::now());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// `1023 B`, `1.5 KiB`, `12.0 MiB`, …
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn line_shows_done_total_and_percent_and_stays_quiet_when_disabled() {
        let mut p = Progress::with_enabled("uploading x", Some(2048), false);
        p.inc(1024);
        assert_eq!(p.done(), 1024);
        let line = p.line();
        assert!(
            line.starts_with("uploading x: 1.0 KiB / 2.0 KiB ( 50%)"),
            "{line}"
        );
        assert!(!p.is_enabled());
        p.finish();
        let unknown = Progress::with_enabled("downloading y", None, false);
        assert!(unknown.line().starts_with("downloading y: 0 B "));
    }
}
