//! [`TopologyConf`]: a topology's configuration (Storm's `Config` map with its setters), and the JSON
//! map type ([`ConfMap`]) components receive in `open`/`prepare`.

use serde_json::Value as Json;

/// A configuration as a JSON object: Storm's dotted keys to JSON values.
pub type ConfMap = serde_json::Map<String, Json>;

/// A topology's own configuration, laid over the cluster's when the topology is submitted. Setters
/// mirror Storm's `Config` (`setNumWorkers`, `setMaxSpoutPending`, …); any key can be set with
/// [`TopologyConf::set`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopologyConf {
    map: ConfMap,
}

impl TopologyConf {
    pub fn new() -> TopologyConf {
        TopologyConf::default()
    }

    /// Sets any key (Storm's `conf.put`).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Json>) -> &mut Self {
        self.map.insert(key.into(), value.into());
        self
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.map.get(key)
    }

    /// `topology.workers`.
    pub fn set_num_workers(&mut self, n: u32) -> &mut Self {
        self.set("topology.workers", n)
    }

    /// `topology.acker.executors`; 0 disables acking.
    pub fn set_num_ackers(&mut self, n: u32) -> &mut Self {
        self.set("topology.acker.executors", n)
    }

    /// `topology.max.spout.pending`: un-acked tuples allowed per spout task.
    pub fn set_max_spout_pending(&mut self, n: u32) -> &mut Self {
        self.set("topology.max.spout.pending", n)
    }

    /// `topology.message.timeout.secs`.
    pub fn set_message_timeout_secs(&mut self, secs: u32) -> &mut Self {
        self.set("topology.message.timeout.secs", secs)
    }

    /// `topology.debug`.
    pub fn set_debug(&mut self, debug: bool) -> &mut Self {
        self.set("topology.debug", debug)
    }

    /// `topology.max.task.parallelism`.
    pub fn set_max_task_parallelism(&mut self, n: u32) -> &mut Self {
        self.set("topology.max.task.parallelism", n)
    }

    /// `topology.tick.tuple.freq.secs` for every bolt (components may override it).
    pub fn set_tick_tuple_freq_secs(&mut self, secs: u32) -> &mut Self {
        self.set("topology.tick.tuple.freq.secs", secs)
    }

    /// `topology.executor.receive.buffer.size`.
    pub fn set_executor_receive_buffer_size(&mut self, n: u32) -> &mut Self {
        self.set("topology.executor.receive.buffer.size", n)
    }

    pub fn as_map(&self) -> &ConfMap {
        &self.map
    }

    pub fn into_map(self) -> ConfMap {
        self.map
    }
}

impl From<ConfMap> for TopologyConf {
    fn from(map: ConfMap) -> TopologyConf {
        TopologyConf { map }
    }
}

impl From<TopologyConf> for ConfMap {
    fn from(conf: TopologyConf) -> ConfMap {
        conf.map
    }
}

/// An integer setting the way Storm's `ObjectReader.getInt` reads it (numbers, whole floats and numeric
/// strings); `None` when unset, `null` or not a number.
pub fn conf_i64(conf: &ConfMap, key: &str) -> Option<i64> {
    match conf.get(key)? {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean setting (`true`/`false` or the strings "true"/"false"); `None` when unset or not a bool.
pub fn conf_bool(conf: &ConfMap, key: &str) -> Option<bool> {
    match conf.get(key)? {
        Json::Bool(b) => Some(*b),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
