//! [`ReturnResults`]: Storm's `ReturnResults` bolt.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{
    conf_i64, Bolt, ComponentError, ConfMap, OutputCollector, OutputFieldsDeclarer,
    TopologyContext, Tuple,
};

use super::invocations::Invocations;
use super::ReturnInfo;
use crate::client::{ClientTransport, ConnectionType};

/// Attempts of `result` (reconnecting in between) before the tuple is failed.
const RESULT_ATTEMPTS: u32 = 3;

/// Answers DRPC requests: input `[result, return-info]`; calls `result(id, result)` on the server the
/// return info names (one cached connection per host and port; a `local:<id>` host is a
/// [`LocalDRPC`](super::LocalDRPC)), up to 3 attempts with reconnection, then acks. A bad return info or
/// a final failure fails the tuple, so the spout fails the request.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ReturnResults {
    #[serde(skip)]
    clients: HashMap<(String, u16), Invocations>,
    #[serde(skip)]
    timeout: Option<Duration>,
    #[serde(skip)]
    transport: ClientTransport,
}

impl ReturnResults {
    pub fn new() -> ReturnResults {
        ReturnResults::default()
    }

    /// Delivers `result` to the request `return_info` names.
    pub fn deliver(&mut self, result: &str, return_info: &str) -> Result<(), String> {
        let info = ReturnInfo::parse(return_info)?;
        let timeout = self.timeout.unwrap_or(Duration::from_secs(600));
        let client = self
            .clients
            .entry((info.host.clone(), info.port))
            .or_insert_with(|| {
                Invocations::new(&info.host, info.port, timeout, self.transport.clone())
            });
        client.retry(RESULT_ATTEMPTS, |c| c.result(&info.id, result))
    }
}

#[typetag::serde(name = "storm::drpc::ReturnResults")]
impl Bolt for ReturnResults {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        _context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.timeout = conf_i64(conf, "storm.thrift.socket.timeout.ms")
            .and_then(|t| u64::try_from(t).ok())
            .map(Duration::from_millis);
        self.transport = ClientTransport::from_conf(conf, ConnectionType::DrpcInvocations)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let outcome = match (input.get(0), input.get(1)) {
            (Some(result), Some(info)) => {
                let info = match info {
                    crate::tuple::Value::String(s) => s.clone(),
                    other => other.java_to_string(),
                };
                self.deliver(&result.java_to_string(), &info)
            }
            _ => Err(format!(
                "ReturnResults needs [result, return-info], got {} values from {}",
                input.len(),
                input.source_component()
            )),
        };
        match outcome {
            Ok(()) => collector.ack(&input),
            Err(e) => {
                tracing::warn!("ReturnResults: {e}");
                collector.report_error(&e);
                collector.fail(&input);
            }
        }
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}
