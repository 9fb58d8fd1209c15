//! The Thrift face of [`Nimbus`]: Storm's `Nimbus` service (`NimbusSyncHandler`). Declared exceptions
//! (`AlreadyAliveException`, `NotAliveException`, `InvalidTopologyException`) reach clients as such;
//! everything else, including every method storm-rs does not implement yet, is a
//! `TApplicationException` with a readable message (never a panic or a dropped connection).
//!
//! Every method first asks `nimbus.authorizer` (Storm's `checkAuthorization`, with Storm's operation
//! names: the `*WithOpts` variants check their base operation, `getTopologyInfoByName` checks
//! `getTopologyInfo`); blob calls are left to the blob store's ACLs, as in Storm. A refusal is Storm's
//! `AuthorizationException` ("`<operation>` on topology `<name>` is not authorized").

use std::sync::Arc;

use thrift::{ApplicationError, ApplicationErrorKind, OrderedFloat};

use super::core::{unsupported, Nimbus, NimbusError};
use crate::thrift::*;

/// Maps a [`NimbusError`] to what the generated processor writes back.
pub fn to_thrift(e: NimbusError) -> thrift::Error {
    match e {
        NimbusError::AlreadyAlive(msg) => {
            thrift::Error::User(Box::new(AlreadyAliveException::new(msg)))
        }
        NimbusError::NotAlive(msg) => thrift::Error::User(Box::new(NotAliveException::new(msg))),
        NimbusError::InvalidTopology(msg) => {
            thrift::Error::User(Box::new(InvalidTopologyException::new(msg)))
        }
        NimbusError::KeyNotFound(msg) => {
            thrift::Error::User(Box::new(KeyNotFoundException::new(msg)))
        }
        NimbusError::KeyAlreadyExists(msg) => {
            thrift::Error::User(Box::new(KeyAlreadyExistsException::new(msg)))
        }
        NimbusError::IllegalState(msg) => {
            thrift::Error::User(Box::new(IllegalStateException::new(msg)))
        }
        NimbusError::Authorization(msg) => {
            thrift::Error::User(Box::new(AuthorizationException::new(msg)))
        }
        NimbusError::Internal(msg) => {
            thrift::Error::Application(ApplicationError::new(ApplicationErrorKind::Unknown, msg))
        }
    }
}

/// Applies `GetInfoOptions.num_err_choice` (Storm: `ALL` default, `NONE`, `ONE` = the newest).
fn with_error_choice(mut info: TopologyInfo, options: &GetInfoOptions) -> TopologyInfo {
    match options.num_err_choice {
        Some(NumErrorsChoice::NONE) => info.errors.values_mut().for_each(Vec::clear),
        Some(NumErrorsChoice::ONE) => info.errors.values_mut().for_each(|e| e.truncate(1)),
        _ => {}
    }
    info
}

/// A blob store answer as the generated processor wants it.
fn blob<T>(r: std::result::Result<T, crate::nimbus::blobstore::BlobError>) -> thrift::Result<T> {
    r.map_err(|e| to_thrift(e.into()))
}

/// `Nimbus` over the core.
pub struct NimbusHandler(pub Arc<Nimbus>);

impl NimbusSyncHandler for NimbusHandler {
    fn handle_submit_topology(
        &self,
        name: String,
        uploaded_jar_location: String,
        json_conf: String,
        topology: StormTopology,
    ) -> thrift::Result<()> {
        self.0
            .check_authorization(Some(&name), None, "submitTopology")
            .map_err(to_thrift)?;
        self.0
            .submit(
                &name,
                &uploaded_jar_location,
                &json_conf,
                &topology,
                TopologyInitialStatus::ACTIVE,
                None,
            )
            .map(|_| ())
            .map_err(to_thrift)
    }

    fn handle_submit_topology_with_opts(
        &self,
        name: String,
        uploaded_jar_location: String,
        json_conf: String,
        topology: StormTopology,
        options: SubmitOptions,
    ) -> thrift::Result<()> {
        self.0
            .check_authorization(Some(&name), None, "submitTopology")
            .map_err(to_thrift)?;
        self.0
            .submit(
                &name,
                &uploaded_jar_location,
                &json_conf,
                &topology,
                options.initial_status,
                options.creds.as_ref(),
            )
            .map(|_| ())
            .map_err(to_thrift)
    }

    fn handle_kill_topology(&self, name: String) -> thrift::Result<()> {
        self.0
            .authorize_name(&name, "killTopology")
            .map_err(to_thrift)?;
        self.0.kill(&name, None).map_err(to_thrift)
    }

    fn handle_kill_topology_with_opts(
        &self,
        name: String,
        options: KillOptions,
    ) -> thrift::Result<()> {
        self.0
            .authorize_name(&name, "killTopology")
            .map_err(to_thrift)?;
        self.0.kill(&name, options.wait_secs).map_err(to_thrift)
    }

    fn handle_activate(&self, name: String) -> thrift::Result<()> {
        self.0
            .authorize_name(&name, "activate")
            .map_err(to_thrift)?;
        self.0.set_active(&name, true).map_err(to_thrift)
    }

    fn handle_deactivate(&self, name: String) -> thrift::Result<()> {
        self.0
            .authorize_name(&name, "deactivate")
            .map_err(to_thrift)?;
        self.0.set_active(&name, false).map_err(to_thrift)
    }

    fn handle_rebalance(&self, name: String, options: RebalanceOptions) -> thrift::Result<()> {
        self.0
            .authorize_name(&name, "rebalance")
            .map_err(to_thrift)?;
        self.0.rebalance(&name, &options).map_err(to_thrift)
    }

    fn handle_set_log_config(&self, id: String, config: LogConfig) -> thrift::Result<()> {
        self.0
            .authorize_id(&id, "setLogConfig")
            .map_err(to_thrift)?;
        self.0.set_log_config(&id, &config).map_err(to_thrift)
    }

    fn handle_get_log_config(&self, id: String) -> thrift::Result<LogConfig> {
        self.0
            .authorize_id(&id, "getLogConfig")
            .map_err(to_thrift)?;
        self.0.log_config(&id).map_err(to_thrift)
    }

    fn handle_debug(
        &self,
        name: String,
        component: String,
        enable: bool,
        sampling_percentage: OrderedFloat<f64>,
    ) -> thrift::Result<()> {
        self.0.authorize_name(&name, "debug").map_err(to_thrift)?;
        self.0
            .debug(&name, &component, enable, sampling_percentage.0)
            .map_err(to_thrift)
    }

    fn handle_set_worker_profiler(
        &self,
        _id: String,
        _profile_request: ProfileRequest,
    ) -> thrift::Result<()> {
        self.0
            .authorize_id(&_id, "setWorkerProfiler")
            .map_err(to_thrift)?;
        Err(to_thrift(unsupported("setWorkerProfiler")))
    }

    fn handle_get_component_pending_profile_actions(
        &self,
        _id: String,
        _component_id: String,
        _action: ProfileAction,
    ) -> thrift::Result<Vec<ProfileRequest>> {
        self.0
            .authorize_id(&_id, "getComponentPendingProfileActions")
            .map_err(to_thrift)?;
        Err(to_thrift(unsupported("getComponentPendingProfileActions")))
    }

    fn handle_upload_new_credentials(
        &self,
        _name: String,
        _creds: Credentials,
    ) -> thrift::Result<()> {
        self.0
            .authorize_name(&_name, "uploadNewCredentials")
            .map_err(to_thrift)?;
        Err(to_thrift(unsupported("uploadNewCredentials")))
    }

    fn handle_begin_create_blob(
        &self,
        key: String,
        meta: SettableBlobMeta,
    ) -> thrift::Result<String> {
        self.0.begin_create_blob(&key, meta).map_err(to_thrift)
    }

    fn handle_begin_update_blob(&self, key: String) -> thrift::Result<String> {
        self.0.begin_update_blob(&key).map_err(to_thrift)
    }

    fn handle_upload_blob_chunk(&self, session: String, chunk: Vec<u8>) -> thrift::Result<()> {
        blob(self.0.blob_store().upload_chunk(&session, &chunk))
    }

    fn handle_finish_blob_upload(&self, session: String) -> thrift::Result<()> {
        self.0.finish_blob_upload(&session).map_err(to_thrift)
    }

    fn handle_cancel_blob_upload(&self, session: String) -> thrift::Result<()> {
        blob(self.0.blob_store().cancel_upload(&session))
    }

    fn handle_get_blob_meta(&self, key: String) -> thrift::Result<ReadableBlobMeta> {
        blob(self.0.blob_store().meta(&key))
    }

    fn handle_set_blob_meta(&self, key: String, meta: SettableBlobMeta) -> thrift::Result<()> {
        self.0.set_blob_meta(&key, &meta).map_err(to_thrift)
    }

    fn handle_begin_blob_download(&self, key: String) -> thrift::Result<BeginDownloadResult> {
        blob(self.0.blob_store().begin_download(&key))
    }

    fn handle_download_blob_chunk(&self, session: String) -> thrift::Result<Vec<u8>> {
        blob(self.0.blob_store().download_chunk(&session))
    }

    fn handle_delete_blob(&self, key: String) -> thrift::Result<()> {
        self.0.delete_blob(&key).map_err(to_thrift)
    }

    fn handle_list_blobs(&self, session: String) -> thrift::Result<ListBlobsResult> {
        blob(self.0.blob_store().list(&session))
    }

    fn handle_get_blob_replication(&self, key: String) -> thrift::Result<i32> {
        self.0.blob_replication(&key).map_err(to_thrift)
    }

    fn handle_update_blob_replication(&self, key: String, replication: i32) -> thrift::Result<i32> {
        blob(self.0.blob_store().update_replication(&key, replication))
    }

    fn handle_create_state_in_zookeeper(&self, key: String) -> thrift::Result<()> {
        self.0.create_blob_state(&key).map_err(to_thrift)
    }

    fn handle_begin_file_upload(&self) -> thrift::Result<String> {
        self.0
            .check_authorization(None, None, "fileUpload")
            .map_err(to_thrift)?;
        self.0.begin_file_upload().map_err(to_thrift)
    }

    fn handle_upload_chunk(&self, location: String, chunk: Vec<u8>) -> thrift::Result<()> {
        self.0
            .check_authorization(None, None, "fileUpload")
            .map_err(to_thrift)?;
        self.0.upload_chunk(&location, &chunk).map_err(to_thrift)
    }

    fn handle_finish_file_upload(&self, location: String) -> thrift::Result<()> {
        self.0
            .check_authorization(None, None, "fileUpload")
            .map_err(to_thrift)?;
        self.0.finish_file_upload(&location).map_err(to_thrift)
    }

    fn handle_begin_file_download(&self, _file: String) -> thrift::Result<String> {
        Err(to_thrift(unsupported("beginFileDownload")))
    }

    fn handle_download_chunk(&self, _id: String) -> thrift::Result<Vec<u8>> {
        self.0
            .check_authorization(None, None, "fileDownload")
            .map_err(to_thrift)?;
        Err(to_thrift(unsupported("downloadChunk")))
    }

    fn handle_get_nimbus_conf(&self) -> thrift::Result<String> {
        self.0
            .check_authorization(None, None, "getNimbusConf")
            .map_err(to_thrift)?;
        Ok(self.0.nimbus_conf_json())
    }

    fn handle_get_cluster_info(&self) -> thrift::Result<ClusterSummary> {
        self.0
            .check_authorization(None, None, "getClusterInfo")
            .map_err(to_thrift)?;
        self.0.cluster_info().map_err(to_thrift)
    }

    fn handle_get_topology_summaries(&self) -> thrift::Result<Vec<TopologySummary>> {
        self.0
            .check_authorization(None, None, "getTopologySummaries")
            .map_err(to_thrift)?;
        self.0.topology_summaries().map_err(to_thrift)
    }

    fn handle_get_topology_summary_by_name(&self, name: String) -> thrift::Result<TopologySummary> {
        self.0
            .check_authorization(Some(&name), None, "getTopologySummaryByName")
            .map_err(to_thrift)?;
        self.0.topology_summary_by_name(&name).map_err(to_thrift)
    }

    fn handle_get_topology_summary(&self, id: String) -> thrift::Result<TopologySummary> {
        self.0
            .authorize_id(&id, "getTopologySummary")
            .map_err(to_thrift)?;
        self.0.topology_summary_by_id(&id).map_err(to_thrift)
    }

    fn handle_get_leader(&self) -> thrift::Result<NimbusSummary> {
        self.0
            .check_authorization(None, None, "getLeader")
            .map_err(to_thrift)?;
        self.0.leader_summary().map_err(to_thrift)
    }

    fn handle_is_topology_name_allowed(&self, name: String) -> thrift::Result<bool> {
        self.0
            .check_authorization(Some(&name), None, "isTopologyNameAllowed")
            .map_err(to_thrift)?;
        self.0.is_topology_name_allowed(&name).map_err(to_thrift)
    }

    fn handle_get_topology_info_by_name(&self, name: String) -> thrift::Result<TopologyInfo> {
        self.0
            .authorize_name(&name, "getTopologyInfo")
            .map_err(to_thrift)?;
        self.0.topology_info_by_name(&name).map_err(to_thrift)
    }

    fn handle_get_topology_info(&self, id: String) -> thrift::Result<TopologyInfo> {
        self.0
            .authorize_id(&id, "getTopologyInfo")
            .map_err(to_thrift)?;
        self.0.topology_info(&id).map_err(to_thrift)
    }

    fn handle_get_topology_info_by_name_with_opts(
        &self,
        name: String,
        options: GetInfoOptions,
    ) -> thrift::Result<TopologyInfo> {
        self.0
            .authorize_name(&name, "getTopologyInfo")
            .map_err(to_thrift)?;
        self.0
            .topology_info_by_name(&name)
            .map(|info| with_error_choice(info, &options))
            .map_err(to_thrift)
    }

    fn handle_get_topology_info_with_opts(
        &self,
        id: String,
        options: GetInfoOptions,
    ) -> thrift::Result<TopologyInfo> {
        self.0
            .authorize_id(&id, "getTopologyInfo")
            .map_err(to_thrift)?;
        self.0
            .topology_info(&id)
            .map(|info| with_error_choice(info, &options))
            .map_err(to_thrift)
    }

    fn handle_get_topology_page_info(
        &self,
        id: String,
        window: String,
        is_include_sys: bool,
    ) -> thrift::Result<TopologyPageInfo> {
        self.0
            .authorize_id(&id, "getTopologyPageInfo")
            .map_err(to_thrift)?;
        self.0
            .topology_page_info(&id, &window, is_include_sys)
            .map_err(to_thrift)
    }

    fn handle_get_supervisor_page_info(
        &self,
        id: String,
        host: String,
        is_include_sys: bool,
    ) -> thrift::Result<SupervisorPageInfo> {
        self.0
            .check_authorization(None, None, "getSupervisorPageInfo")
            .map_err(to_thrift)?;
        // A Java client's null id/host arrives as "" (see thrift::server's nullable arguments).
        self.0
            .supervisor_page_info(&id, &host, is_include_sys)
            .map_err(to_thrift)
    }

    fn handle_get_component_page_info(
        &self,
        topology_id: String,
        component_id: String,
        window: String,
        is_include_sys: bool,
    ) -> thrift::Result<ComponentPageInfo> {
        self.0
            .authorize_id(&topology_id, "getComponentPageInfo")
            .map_err(to_thrift)?;
        self.0
            .component_page_info(&topology_id, &component_id, &window, is_include_sys)
            .map_err(to_thrift)
    }

    fn handle_get_topology_conf(&self, id: String) -> thrift::Result<String> {
        self.0
            .authorize_id(&id, "getTopologyConf")
            .map_err(to_thrift)?;
        self.0.topology_conf_json(&id).map_err(to_thrift)
    }

    fn handle_get_topology(&self, id: String) -> thrift::Result<StormTopology> {
        self.0.authorize_id(&id, "getTopology").map_err(to_thrift)?;
        self.0.read_system_topology(&id).map_err(to_thrift)
    }

    fn handle_get_user_topology(&self, id: String) -> thrift::Result<StormTopology> {
        self.0
            .authorize_id(&id, "getUserTopology")
            .map_err(to_thrift)?;
        self.0.read_user_topology(&id).map_err(to_thrift)
    }

    fn handle_get_topology_history(&self, user: String) -> thrift::Result<TopologyHistoryInfo> {
        self.0
            .topology_history(&user)
            .map(|ids| TopologyHistoryInfo {
                topo_ids: Some(ids),
            })
            .map_err(to_thrift)
    }

    fn handle_get_owner_resource_summaries(
        &self,
        owner: String,
    ) -> thrift::Result<Vec<OwnerResourceSummary>> {
        self.0
            .check_authorization(None, None, "getOwnerResourceSummaries")
            .map_err(to_thrift)?;
        self.0.owner_resource_summaries(&owner).map_err(to_thrift)
    }

    fn handle_get_supervisor_assignments(
        &self,
        node: String,
    ) -> thrift::Result<SupervisorAssignments> {
        self.0
            .check_authorization(None, None, "getSupervisorAssignments")
            .map_err(to_thrift)?;
        self.0.supervisor_assignments(&node).map_err(to_thrift)
    }

    fn handle_send_supervisor_worker_heartbeats(
        &self,
        heartbeats: SupervisorWorkerHeartbeats,
    ) -> thrift::Result<()> {
        self.0
            .check_authorization(None, None, "sendSupervisorWorkerHeartbeats")
            .map_err(to_thrift)?;
        self.0.supervisor_worker_heartbeats(&heartbeats);
        Ok(())
    }

    fn handle_send_supervisor_worker_heartbeat(
        &self,
        heatbeat: SupervisorWorkerHeartbeat,
    ) -> thrift::Result<()> {
        self.0
            .authorize_id(&heatbeat.storm_id, "sendSupervisorWorkerHeartbeat")
            .map_err(to_thrift)?;
        self.0.worker_heartbeat(&heatbeat).map_err(to_thrift)
    }

    fn handle_process_worker_metrics(&self, _metrics: WorkerMetrics) -> thrift::Result<()> {
        self.0
            .check_authorization(None, None, "processWorkerMetrics")
            .map_err(to_thrift)?;
        Err(to_thrift(unsupported("processWorkerMetrics")))
    }

    fn handle_is_remote_blob_exists(&self, blob_key: String) -> thrift::Result<bool> {
        match self.0.blob_store().meta(&blob_key) {
            Ok(_) => Ok(true),
            Err(crate::nimbus::blobstore::BlobError::KeyNotFound(_)) => Ok(false),
            Err(e) => Err(to_thrift(e.into())),
        }
    }
}
