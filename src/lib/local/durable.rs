//! File-backed test components for topologies whose tasks run in other processes (cluster tests,
//! fault-injection demos), where the process-wide registry of [`super::testing`] cannot reach them.
//! They are built into the library, so the stock `worker` binary can run them.
//!
//! * [`LedgerSpout`]: a durable source. Message ids are `task * 1e9 + n`; the sentence of id `n` is
//!   `SENTENCES[n % 5]`. Every emit and ack is appended to `<dir>/spout-<task>.emitted` /
//!   `.acked`; a restarted task (a killed worker) re-reads both logs and replays the ids emitted but
//!   never acked before emitting new ones, the way a Kafka spout resumes from committed offsets. It
//!   emits at most `limit` new ids per task; with `with_id` the id travels as field `id`.
//! * [`CrashOnceBolt`]: fails with an error on the very first tuple it ever sees, then passes
//!   sentences through.
//! * [`CountFileSink`]: counts field `word` and rewrites `<dir>/counts-<task>.json` (temp + rename) at
//!   most every 100 ms and on every tick, so a test can read the counts of every task.
//! * [`FileProbeSpout`]: reports what files in the worker's directory hold (blobs of
//!   `topology.blobstore.map`), per task, with the worker's pid.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::components::RandomSentenceSpout;
use crate::api::{
    BasicBolt, BasicOutputCollector, ComponentError, ConfMap, MessageId, OutputFieldsDeclarer,
    Spout, SpoutOutputCollector, TopologyContext, Tuple,
};
use crate::tuple::Value;
use crate::values;

/// Ids of one spout task start at `task * ID_BLOCK`.
pub const ID_BLOCK: i64 = 1_000_000_000;

/// The sentence a [`LedgerSpout`] emits for sequence number `n`.
pub fn ledger_sentence(n: i64) -> &'static str {
    RandomSentenceSpout::SENTENCES[n.rem_euclid(5) as usize]
}

/// The word counts `limit` sentences per spout task produce, for `tasks` spout tasks.
pub fn expected_counts(limit: i64, tasks: usize) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for n in 0..limit {
        for w in ledger_sentence(n).split_whitespace() {
            *out.entry(w.to_owned()).or_insert(0) += tasks as i64;
        }
    }
    out
}

fn read_ids(path: &Path) -> BTreeSet<i64> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Every id in the `.emitted` and `.acked` logs under `dir`.
pub fn ledger(dir: &Path) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let (mut emitted, mut acked) = (BTreeSet::new(), BTreeSet::new());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            match p.extension().and_then(|x| x.to_str()) {
                Some("emitted") => emitted.extend(read_ids(&p)),
                Some("acked") => acked.extend(read_ids(&p)),
                _ => {}
            }
        }
    }
    (emitted, acked)
}

/// The merged counts of every [`CountFileSink`] task under `dir`.
pub fn read_counts(dir: &Path) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !(name.starts_with("counts-") && name.ends_with(".json")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let counts: BTreeMap<String, i64> = serde_json::from_str(&text).unwrap_or_default();
            for (w, c) in counts {
                *out.entry(w).or_insert(0) += c;
            }
        }
    }
    out
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> ComponentError {
    ComponentError::from(format!("cannot {what} {}: {e}", path.display()))
}

/// A durable sentence source; see the module doc.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LedgerSpout {
    pub dir: PathBuf,
    /// New ids per task.
    pub limit: i64,
    /// Pause between emits (0 = as fast as allowed).
    pub interval_ms: u64,
    /// Also emit the message id as field `id` (after `sentence`).
    #[serde(default)]
    pub with_id: bool,
    #[serde(skip)]
    base: i64,
    #[serde(skip)]
    next: i64,
    #[serde(skip)]
    replay: VecDeque<i64>,
    #[serde(skip)]
    emitted_log: Option<std::fs::File>,
    #[serde(skip)]
    acked_log: Option<std::fs::File>,
}

impl LedgerSpout {
    pub fn new(dir: impl Into<PathBuf>, limit: i64, interval_ms: u64) -> LedgerSpout {
        LedgerSpout {
            dir: dir.into(),
            limit,
            interval_ms,
            ..LedgerSpout::default()
        }
    }

    fn append(file: &mut Option<std::fs::File>, id: i64) -> Result<(), ComponentError> {
        if let Some(f) = file {
            writeln!(f, "{id}").map_err(|e| ComponentError::from(format!("ledger write: {e}")))?;
        }
        Ok(())
    }
}

#[typetag::serde(name = "storm::testing::LedgerSpout")]
impl Spout for LedgerSpout {
    fn open(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let task = context.this_task_id();
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err("create", &self.dir, e))?;
        let emitted_path = self.dir.join(format!("spout-{task}.emitted"));
        let acked_path = self.dir.join(format!("spout-{task}.acked"));
        let emitted = read_ids(&emitted_path);
        let acked = read_ids(&acked_path);
        self.base = i64::from(task) * ID_BLOCK;
        self.next = emitted.iter().next_back().map_or(0, |m| m - self.base + 1);
        self.replay = emitted.difference(&acked).copied().collect();
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| io_err("open", p, e))
        };
        self.emitted_log = Some(open(&emitted_path)?);
        self.acked_log = Some(open(&acked_path)?);
        Ok(())
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let id = match self.replay.pop_front() {
            Some(id) => id,
            None if self.next < self.limit => {
                let id = self.base + self.next;
                self.next += 1;
                Self::append(&mut self.emitted_log, id)?;
                id
            }
            None => {
                std::thread::sleep(Duration::from_millis(1));
                return Ok(());
            }
        };
        if self.interval_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.interval_ms));
        }
        let sentence = ledger_sentence(id - self.base);
        let values = if self.with_id {
            values![sentence, id]
        } else {
            values![sentence]
        };
        collector.emit(values, Some(Value::Long(id)))?;
        Ok(())
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(id) = message_id.as_i64() {
            Self::append(&mut self.acked_log, id)?;
        }
        Ok(())
    }

    fn fail(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(id) = message_id.as_i64() {
            self.replay.push_back(id);
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        if self.with_id {
            declarer.declare(["sentence", "id"]);
        } else {
            declarer.declare(["sentence"]);
        }
    }
}

/// Counts words into a file per task; see the module doc.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CountFileSink {
    pub dir: PathBuf,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    counts: BTreeMap<String, i64>,
    #[serde(skip)]
    dirty: bool,
    #[serde(skip)]
    last_write: Option<Instant>,
}

impl CountFileSink {
    pub fn new(dir: impl Into<PathBuf>) -> CountFileSink {
        CountFileSink {
            dir: dir.into(),
            ..CountFileSink::default()
        }
    }

    fn flush(&mut self) -> Result<(), ComponentError> {
        if !self.dirty {
            return Ok(());
        }
        let tmp = self.path.with_extension("json.tmp");
        let json = serde_json::to_vec(&self.counts)
            .map_err(|e| ComponentError::from(format!("counts: {e}")))?;
        std::fs::write(&tmp, json).map_err(|e| io_err("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io_err("rename", &tmp, e))?;
        self.dirty = false;
        self.last_write = Some(Instant::now());
        Ok(())
    }
}

#[typetag::serde(name = "storm::testing::CountFileSink")]
impl BasicBolt for CountFileSink {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
    ) -> Result<(), ComponentError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err("create", &self.dir, e))?;
        self.path = self
            .dir
            .join(format!("counts-{}.json", context.this_task_id()));
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        _collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            return self.flush();
        }
        let word = input.get_str_by_field("word")?;
        *self.counts.entry(word.to_owned()).or_insert(0) += 1;
        self.dirty = true;
        if self
            .last_write
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(100))
        {
            self.flush()?;
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        let _ = self.flush();
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        let mut m = ConfMap::new();
        m.insert("topology.tick.tuple.freq.secs".into(), 1.into());
        Some(m)
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

/// Passes sentences through; the first tuple it ever sees (across processes: a marker file in `dir`
/// remembers) makes it return an error, so a test can watch a worker die of a user error, the error
/// reach `/errors`, and the worker be relaunched.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CrashOnceBolt {
    pub dir: PathBuf,
}

impl CrashOnceBolt {
    pub fn new(dir: impl Into<PathBuf>) -> CrashOnceBolt {
        CrashOnceBolt { dir: dir.into() }
    }
}

#[typetag::serde(name = "storm::testing::CrashOnceBolt")]
impl BasicBolt for CrashOnceBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let marker = self.dir.join("crashed-once");
        if !marker.exists() {
            std::fs::create_dir_all(&self.dir).map_err(|e| io_err("create", &self.dir, e))?;
            std::fs::write(&marker, b"").map_err(|e| io_err("write", &marker, e))?;
            return Err("CrashOnceBolt: deliberate crash on the first tuple".into());
        }
        collector.emit(input.values().to_vec())?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["sentence"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_counts_follow_the_sentence_cycle() {
        let c = expected_counts(5, 2);
        assert_eq!(
            c["the"],
            2 * 4,
            "'the' appears four times in the five sentences"
        );
        assert_eq!(c["seven"], 2 * 2);
        assert_eq!(c.values().sum::<i64>(), 2 * (6 + 8 + 6 + 6 + 6));
    }
}

/// Reads files from the worker's working directory (its `topology.blobstore.map` blobs appear there
/// under their local names) and reports what it saw: at most every 100 ms it rewrites
/// `<dir>/probe-<task>.txt` (temp + rename) with `pid=<worker pid>` and one `<path>=<content>` line
/// per path (`<path>=<missing>` when unreadable). It emits nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileProbeSpout {
    pub paths: Vec<String>,
    pub dir: PathBuf,
    #[serde(skip)]
    out: PathBuf,
    #[serde(skip)]
    last: Option<Instant>,
}

impl FileProbeSpout {
    pub fn new(paths: &[&str], dir: impl Into<PathBuf>) -> FileProbeSpout {
        FileProbeSpout {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            dir: dir.into(),
            ..FileProbeSpout::default()
        }
    }

    /// What every probe task under `dir` last saw: task file name → (pid, path → content).
    pub fn read_reports(dir: &Path) -> BTreeMap<String, (u32, BTreeMap<String, String>)> {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("probe-") && name.ends_with(".txt")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let mut pid = 0;
            let mut seen = BTreeMap::new();
            for line in text.lines() {
                if let Some(p) = line.strip_prefix("pid=") {
                    pid = p.parse().unwrap_or(0);
                } else if let Some((k, v)) = line.split_once('=') {
                    seen.insert(k.to_string(), v.replace("\\n", "\n"));
                }
            }
            out.insert(name, (pid, seen));
        }
        out
    }
}

#[typetag::serde(name = "storm::testing::FileProbeSpout")]
impl Spout for FileProbeSpout {
    fn open(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err("create", &self.dir, e))?;
        self.out = self
            .dir
            .join(format!("probe-{}.txt", context.this_task_id()));
        Ok(())
    }

    fn next_tuple(
        &mut self,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            std::thread::sleep(Duration::from_millis(5));
            return Ok(());
        }
        self.last = Some(Instant::now());
        let mut report = format!("pid={}\n", std::process::id());
        for p in &self.paths {
            let content = std::fs::read_to_string(p)
                .map(|c| c.replace('\n', "\\n"))
                .unwrap_or_else(|_| "<missing>".to_string());
            report.push_str(&format!("{p}={content}\n"));
        }
        let tmp = self.out.with_extension("tmp");
        std::fs::write(&tmp, report).map_err(|e| io_err("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.out).map_err(|e| io_err("rename", &tmp, e))
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}
