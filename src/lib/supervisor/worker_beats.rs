//! Storm 2's worker liveness path on the supervisor (STORM-2693): the supervisor's own Thrift service
//! (`Supervisor` on `supervisor.thrift.port`), which local workers call every
//! `worker.heartbeat.frequency.secs` with `sendSupervisorWorkerHeartbeat` (a probe: the supervisor only
//! checks it knows the topology, as Storm's does), and `ReportWorkerHeartbeats`: every
//! `worker.heartbeat.frequency.secs` the supervisor reads its workers' LocalState heartbeats
//! (`workers/<wid>/heartbeats`) and sends them in one `SupervisorWorkerHeartbeats` to the leader nimbus.

use std::path::Path;

use crate::paths::StormPaths;
use crate::thrift::{
    Assignment, NotAliveException, SupervisorAssignments, SupervisorSyncHandler,
    SupervisorWorkerHeartbeat, SupervisorWorkerHeartbeats,
};

use super::container::read_heartbeat;

/// What the supervisor's Thrift service answers.
pub struct SupervisorHandler {
    pub paths: StormPaths,
}

fn not_supported(method: &str) -> thrift::Error {
    thrift::Error::Application(thrift::ApplicationError::new(
        thrift::ApplicationErrorKind::UnknownMethod,
        format!("{method} is not supported by storm-rs yet (supervisors read assignments from ZooKeeper)"),
    ))
}

impl SupervisorSyncHandler for SupervisorHandler {
    fn handle_send_supervisor_assignments(&self, _a: SupervisorAssignments) -> thrift::Result<()> {
        Err(not_supported("sendSupervisorAssignments"))
    }

    fn handle_get_local_assignment_for_storm(&self, _id: String) -> thrift::Result<Assignment> {
        Err(not_supported("getLocalAssignmentForStorm"))
    }

    fn handle_send_supervisor_worker_heartbeat(
        &self,
        heartbeat: SupervisorWorkerHeartbeat,
    ) -> thrift::Result<()> {
        let conf = self
            .paths
            .supervisor_stormdist(&heartbeat.storm_id)
            .join("stormconf.ser");
        if !conf.is_file() {
            // Storm: the topology's conf is not localized here, so the worker should exit.
            return Err(thrift::Error::User(Box::new(NotAliveException::new(
                format!(
                    "{} does not appear to be alive, you should probably exit",
                    heartbeat.storm_id
                ),
            ))));
        }
        Ok(())
    }
}

/// The heartbeats of every worker directory under `workers/`, as nimbus wants them
/// (`getSupervisorWorkerHeartbeatsFromLocal`). Bounded by the number of worker directories.
pub fn local_worker_heartbeats(
    paths: &StormPaths,
    supervisor_id: &str,
) -> SupervisorWorkerHeartbeats {
    let mut beats = Vec::new();
    let root = paths.workers_root();
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let Some(wid) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !Path::new(&e.path()).is_dir() {
                continue;
            }
            if let Some(hb) = read_heartbeat(paths, &wid) {
                beats.push(SupervisorWorkerHeartbeat {
                    storm_id: hb.topology_id,
                    executors: hb.executors,
                    time_secs: hb.time_secs,
                });
            }
        }
    }
    beats.sort_by(|a, b| (&a.storm_id, a.time_secs).cmp(&(&b.storm_id, b.time_secs)));
    SupervisorWorkerHeartbeats {
        supervisor_id: supervisor_id.to_string(),
        worker_heartbeats: beats,
    }
}
