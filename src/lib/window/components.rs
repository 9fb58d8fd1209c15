//! Windowed components built into the library, so the stock `worker` binary runs them (cluster
//! tests, the windowed-count benchmark).
//!
//! [`WindowSummaryBolt`] emits one tuple per window — `[start, end, count, new, expired, items]`,
//! anchored to the window's tuples (`items`: the values of one field of every tuple in the window,
//! or empty) — and, with a `log_dir`, appends the same as a JSON line to
//! `<log_dir>/windows-<task>.jsonl`, so a test can read what every task saw across processes.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::bolt::{TupleWindow, WindowedBolt};
use crate::api::{ComponentError, ConfMap, OutputCollector, OutputFieldsDeclarer, TopologyContext};
use crate::tuple::Value;

/// See the module doc.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WindowSummaryBolt {
    /// The field whose values are listed in `items` (none: `items` is empty).
    pub field: Option<String>,
    pub log_dir: Option<PathBuf>,
    #[serde(skip)]
    log: Option<std::fs::File>,
    #[serde(skip)]
    task: i32,
}

impl WindowSummaryBolt {
    pub fn new(field: Option<&str>) -> WindowSummaryBolt {
        WindowSummaryBolt {
            field: field.map(str::to_owned),
            ..WindowSummaryBolt::default()
        }
    }

    pub fn with_log_dir(mut self, dir: impl Into<PathBuf>) -> WindowSummaryBolt {
        self.log_dir = Some(dir.into());
        self
    }
}

/// One line of a [`WindowSummaryBolt`] log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRecord {
    pub task: i32,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub count: usize,
    pub new: usize,
    pub expired: usize,
}

/// Every record the tasks of a [`WindowSummaryBolt`] logged under `dir`, per task in order.
pub fn read_window_logs(dir: &std::path::Path) -> Vec<WindowRecord> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("windows-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        // A line being written may be incomplete: only whole lines count.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            if let Ok(r) = serde_json::from_str(line.trim()) {
                out.push(r);
            }
        }
    }
    out
}

#[typetag::serde(name = "storm::window::WindowSummaryBolt")]
impl WindowedBolt for WindowSummaryBolt {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
    ) -> Result<(), ComponentError> {
        self.task = context.this_task_id();
        if let Some(dir) = &self.log_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let path = dir.join(format!("windows-{}.jsonl", context.this_task_id()));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            self.log = Some(file);
        }
        Ok(())
    }

    fn execute(
        &mut self,
        window: &TupleWindow,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let items = match &self.field {
            Some(f) => window
                .get()
                .iter()
                .map(|t| t.value_by_field(f).cloned())
                .collect::<Result<Vec<Value>, _>>()?,
            None => Vec::new(),
        };
        if let Some(log) = &mut self.log {
            let record = WindowRecord {
                task: self.task,
                start: window.get_start_timestamp(),
                end: window.get_end_timestamp(),
                count: window.get().len(),
                new: window.get_new().len(),
                expired: window.get_expired().len(),
            };
            let line = serde_json::to_string(&record)?;
            writeln!(log, "{line}")?;
        }
        let ts = |v: Option<i64>| v.map_or(Value::Null, Value::Long);
        collector.emit(vec![
            ts(window.get_start_timestamp()),
            ts(window.get_end_timestamp()),
            Value::Long(window.get().len() as i64),
            Value::Long(window.get_new().len() as i64),
            Value::Long(window.get_expired().len() as i64),
            Value::List(items),
        ])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["start", "end", "count", "new", "expired", "items"]);
    }
}
