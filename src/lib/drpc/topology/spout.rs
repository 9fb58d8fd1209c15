//! [`DRPCSpout`] (Storm's `DRPCSpout`) and [`ExclaimBolt`] (storm-starter's manual-DRPC bolt).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{
    conf_i64, BasicBolt, BasicOutputCollector, ComponentError, ConfMap, FailedException, MessageId,
    OutputFieldsDeclarer, Spout, SpoutOutputCollector, TopologyContext, Tuple,
};
use crate::tuple::Value;
use crate::values;

use super::invocations::Invocations;
use super::local::{LocalDRPC, LOCAL_HOST_PREFIX};
use super::ReturnInfo;

/// Storm's text when a cluster-mode spout has no servers.
pub const NO_SERVERS_MSG: &str = "No DRPC servers configured for topology";

/// Attempts of `failRequest` (reconnecting in between) before a failure is given up.
const FAIL_ATTEMPTS: u32 = 3;

/// Which of `servers` task `index` of `num_tasks` polls (Storm's rule): every server when the spout
/// has fewer tasks than there are servers, else server `index mod servers`.
pub fn servers_for_task(servers: &[String], index: usize, num_tasks: usize) -> Vec<String> {
    if servers.is_empty() {
        return Vec::new();
    }
    if num_tasks < servers.len() {
        servers.to_vec()
    } else {
        vec![servers[index % servers.len()].clone()]
    }
}

/// The spout's message id for request `id` fetched from client `index`: `{"id": id, "index": index}`.
pub fn message_id(id: &str, index: usize) -> MessageId {
    Value::Map(vec![
        (Value::from("id"), Value::from(id)),
        (
            Value::from("index"),
            Value::from(i64::try_from(index).unwrap_or(i64::MAX)),
        ),
    ])
}

/// The request id and client index of a message id made by [`message_id`].
pub fn parse_message_id(id: &MessageId) -> Option<(String, usize)> {
    let Value::Map(entries) = id else {
        return None;
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, Value::String(s) if s == key))
            .map(|(_, v)| v)
    };
    let request = match get("id")? {
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let index = match get("index")? {
        Value::Long(i) => usize::try_from(*i).ok()?,
        Value::Int(i) => usize::try_from(*i).ok()?,
        _ => return None,
    };
    Some((request, index))
}

/// Emits the requests of one DRPC function: `[args, return-info]` (fields `args`, `return-info`), each
/// reliably with message id `{id, index}`; a failed tuple tree makes the request fail on its server.
///
/// * [`DRPCSpout::new`] (cluster mode) polls the servers of `drpc.servers` on `drpc.invocations.port`:
///   a spout with fewer tasks than servers has each task poll every server, else task `i` polls server
///   `i mod servers`. Connections are opened lazily and re-opened after errors.
/// * [`DRPCSpout::local`] polls a [`LocalDRPC`] of this process.
///
/// `next_tuple` asks each server in order and emits the first request found; with none it emits
/// nothing (the executor idles a little before asking again).
#[derive(Debug, Serialize, Deserialize)]
pub struct DRPCSpout {
    function: String,
    /// The `LocalDRPC` service id in local mode.
    local_drpc: Option<String>,
    #[serde(skip)]
    clients: Vec<Invocations>,
    /// Whether the last call on each client failed (to log each outage once).
    #[serde(skip)]
    down: Vec<bool>,
}

impl DRPCSpout {
    /// A cluster-mode spout for `function` (servers from `drpc.servers`).
    pub fn new(function: impl Into<String>) -> DRPCSpout {
        DRPCSpout {
            function: function.into(),
            local_drpc: None,
            clients: Vec::new(),
            down: Vec::new(),
        }
    }

    /// A local-mode spout for `function` served by `drpc`.
    pub fn local(function: impl Into<String>, drpc: &LocalDRPC) -> DRPCSpout {
        DRPCSpout {
            function: function.into(),
            local_drpc: Some(drpc.service_id().to_owned()),
            clients: Vec::new(),
            down: Vec::new(),
        }
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    /// The servers this task polls, as `host:port` (`local:<id>:0` for a `LocalDRPC`); empty before
    /// `open`.
    pub fn servers(&self) -> Vec<String> {
        self.clients
            .iter()
            .map(|c| format!("{}:{}", c.host(), c.port()))
            .collect()
    }

    /// Sets the clients from the configuration and the task's place (what `open` does).
    pub fn connect_clients(
        &mut self,
        conf: &ConfMap,
        task_index: usize,
        num_tasks: usize,
    ) -> Result<(), ComponentError> {
        let timeout = Duration::from_millis(
            conf_i64(conf, "storm.thrift.socket.timeout.ms")
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(600_000),
        );
        let transport = crate::client::ClientTransport::from_conf(
            conf,
            crate::client::ConnectionType::DrpcInvocations,
        )
        .map_err(|e| e.to_string())?;
        self.clients = match &self.local_drpc {
            Some(id) => vec![Invocations::new(
                &format!("{LOCAL_HOST_PREFIX}{id}"),
                0,
                timeout,
                transport,
            )],
            None => {
                let servers: Vec<String> = match conf.get("drpc.servers") {
                    Some(serde_json::Value::Array(a)) => a
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect(),
                    Some(serde_json::Value::String(s)) => vec![s.clone()],
                    _ => Vec::new(),
                };
                if servers.is_empty() {
                    return Err(NO_SERVERS_MSG.into());
                }
                let port = conf_i64(conf, "drpc.invocations.port")
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or("drpc.invocations.port is not a port number")?;
                servers_for_task(&servers, task_index, num_tasks)
                    .iter()
                    .map(|host| Invocations::new(host, port, timeout, transport.clone()))
                    .collect()
            }
        };
        self.down = vec![false; self.clients.len()];
        Ok(())
    }
}

#[typetag::serde(name = "storm::drpc::DRPCSpout")]
impl Spout for DRPCSpout {
    fn open(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.connect_clients(
            conf,
            context.this_task_index(),
            context.this_component_tasks().len(),
        )?;
        tracing::info!(
            function = %self.function,
            servers = ?self.servers(),
            "DRPC spout opened"
        );
        Ok(())
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        for (index, client) in self.clients.iter_mut().enumerate() {
            match client.fetch_request(&self.function) {
                Ok(Some(req)) => {
                    self.down[index] = false;
                    let info = ReturnInfo {
                        id: req.request_id.clone(),
                        host: client.host().to_owned(),
                        port: client.port(),
                    };
                    collector.emit(
                        values![req.func_args, info.to_json()],
                        Some(message_id(&req.request_id, index)),
                    )?;
                    return Ok(());
                }
                Ok(None) => self.down[index] = false,
                Err(e) => {
                    if !self.down[index] {
                        tracing::warn!(function = %self.function, "DRPC spout: {e}");
                        self.down[index] = true;
                    }
                }
            }
        }
        Ok(())
    }

    fn fail(
        &mut self,
        message_id: MessageId,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let Some((id, index)) = parse_message_id(&message_id) else {
            tracing::warn!(
                ?message_id,
                "DRPC spout: failed tuple with a foreign message id"
            );
            return Ok(());
        };
        let Some(client) = self.clients.get_mut(index) else {
            return Ok(());
        };
        tracing::debug!(function = %self.function, id = %id, "DRPC request failed");
        if let Err(e) = client.retry(FAIL_ATTEMPTS, |c| c.fail_request(&id)) {
            collector.report_error(format!(
                "DRPC spout could not fail request {id} of {}: {e}",
                self.function
            ));
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["args", "return-info"]);
    }
}

/// storm-starter's manual-DRPC `ExclamationBolt`: `[args, return-info]` → `[args + "!", return-info]`
/// (fields `result`, `return-info`), for a `DRPCSpout → ExclaimBolt → ReturnResults` topology. With
/// `fail_on`, an argument equal to it fails the tuple (the DRPC client gets `FAILED_REQUEST`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExclaimBolt {
    #[serde(default)]
    pub fail_on: Option<String>,
}

impl ExclaimBolt {
    /// A bolt that fails the requests whose argument is `arg`.
    pub fn failing_on(arg: impl Into<String>) -> ExclaimBolt {
        ExclaimBolt {
            fail_on: Some(arg.into()),
        }
    }
}

#[typetag::serde(name = "storm::drpc::ExclaimBolt")]
impl BasicBolt for ExclaimBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let arg = input.value(0)?.java_to_string();
        if self.fail_on.as_deref() == Some(arg.as_str()) {
            return Err(FailedException::new(format!("refusing to exclaim {arg:?}")).into());
        }
        let info = input.value(1)?.clone();
        collector.emit(vec![Value::from(format!("{arg}!")), info])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["result", "return-info"]);
    }
}
