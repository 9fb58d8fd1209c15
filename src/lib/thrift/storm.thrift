// storm-rs: the Thrift schema of Apache Storm's data structures and RPC services.
//
// This file is storm-rs's own. What it must share with Apache Storm is everything that reaches the wire:
// every struct, union, enum, exception and service name, every field id, field type and requiredness,
// and every method's argument ids and `throws` ids are those of `storm-client/src/storm.thrift` in Storm
// 2.8.x (2.8.0 to 2.8.8 carry the same schema). Streamparse, thriftpy2 and Storm's own Java and Python
// clients, and the bytes Storm keeps in ZooKeeper and on local disk, all depend on that. Field *names*
// are kept too, because generated code in other languages (and the JSON of the UI) uses them.
//
// Regenerate the Rust side with `scripts/gen-thrift.sh` (Debian's thrift-compiler 0.17.0); the output,
// `generated.rs`, is checked in, so ordinary builds never need the compiler.
//
// Left out on purpose (nothing in storm-rs speaks them; add them from Storm's schema if that changes):
//   * Pacemaker's heartbeat protocol: HBServerMessageType, HBPulse, HBRecords, HBNodes, HBMessageData,
//     HBMessage, HBAuthorizationException, HBExecutionException (Pacemaker is out of scope).
//   * Secure-cluster worker tokens: WorkerTokenServiceType, WorkerTokenInfo, WorkerToken,
//     PrivateWorkerKey (Kerberos/SASL are out of scope; nothing writes /storm/secretkeys).
//   * ClusterSummary field 2 (`nimbus_uptime_secs`): Storm 2 removed it; readers skip it when a 1.x
//     peer still sends it.
//
// Deliberate differences from Storm 2.8's schema:
//   * Nimbus.beginFileDownload is declared although Storm 2 removed it, with its Storm 1.x signature,
//     so that 1.x-era clients get a declared answer instead of "unknown method".
//   * `time_secs` of ClusterWorkerHeartbeat, LSWorkerHeartbeat and SupervisorWorkerHeartbeat stays an
//     i32 as in every released Storm. (Storm's unreleased 3.0 branch widened it to i64, which changes
//     the wire type; revisit this together with zstd payloads if storm-rs ever follows 3.x.)
//
// storm-rs additions: optional fields with ids from 9001 up, which Storm never used. Every Thrift
// reader (Storm's Java and Python clients included) skips fields it does not know, so they change
// nothing for Storm's clients; no Storm field is moved, retyped or left empty because of them. They
// carry what Storm cannot tell apart: spout failures by cause (timed out / failed explicitly) and the
// errors executors reported (counted before the error throttle, like Storm's
// `__reported-error-count` metric, not only the ten kept in /errors), in SpoutStats, ExecutorStats,
// CommonAggregateStats, SpoutAggregateStats and TopologyStats.
//
// Enum members are given explicit numbers here even where Storm relies on implicit numbering from 0;
// the numbers are the same.

namespace rs storm

// ---------------------------------------------------------------------------------------------------
// Topology definition: what `storm jar` / streamparse submit and what nimbus keeps in stormcode.ser.
// ---------------------------------------------------------------------------------------------------

// One constructor argument of a JavaObject.
union JavaObjectArg {
  1: i32 int_arg;
  2: i64 long_arg;
  3: string string_arg;
  4: bool bool_arg;
  5: binary binary_arg;
  6: double double_arg;
}

// A component (or custom grouping) named by class and built from constructor arguments. storm-rs only
// accepts registered built-in names here.
struct JavaObject {
  1: required string full_class_name;
  2: required list<JavaObjectArg> args_list;
}

// The empty payload of the argument-less union members (shuffle, all, none, ...).
struct NullStruct {
}

// (component id, stream id): the source of a subscription; also a key of bolt stats.
struct GlobalStreamId {
  1: required string componentId;
  2: required string streamId;
}

// How a bolt's input stream is partitioned among the bolt's tasks.
union Grouping {
  1: list<string> fields;          // hash of these fields; an empty list is the global grouping
  2: NullStruct shuffle;           // round-robin over a random permutation
  3: NullStruct all;               // every task gets a copy
  4: NullStruct none;              // "don't care" (behaves as shuffle)
  5: NullStruct direct;            // the emitter picks the task
  6: JavaObject custom_object;     // a CustomStreamGrouping by class
  7: binary custom_serialized;     // a Java-serialized CustomStreamGrouping
  8: NullStruct local_or_shuffle;  // a task in the same worker if there is one, else shuffle
}

// A declared output stream.
struct StreamInfo {
  1: required list<string> output_fields;
  2: required bool direct;
}

// A multilang subprocess: `execution_command script` is run in the unpacked resources directory.
struct ShellComponent {
  1: string execution_command;
  2: string script;
}

// The implementation of a spout or bolt.
union ComponentObject {
  1: binary serialized_java;       // Java serialization (refused by storm-rs) or a tagged Rust component
  2: ShellComponent shell;
  3: JavaObject java_object;
}

// What every component has besides its implementation.
struct ComponentCommon {
  1: required map<GlobalStreamId, Grouping> inputs;
  2: required map<string, StreamInfo> streams;      // keyed by stream id
  3: optional i32 parallelism_hint;                  // initial number of executors
  4: optional string json_conf;                      // component-level conf overrides, a JSON object
}

struct SpoutSpec {
  1: required ComponentObject spout_object;
  2: required ComponentCommon common;
}

struct Bolt {
  1: required ComponentObject bolt_object;
  2: required ComponentCommon common;
}

// Declared by Storm but never implemented; always an empty map in practice.
struct StateSpoutSpec {
  1: required ComponentObject state_spout_object;
  2: required ComponentCommon common;
}

// A named block of memory shared by components (resource-aware scheduling).
struct SharedMemory {
  1: required string name;
  2: optional double on_heap;
  3: optional double off_heap_worker;
  4: optional double off_heap_node;
}

// A whole topology. Component ids are unique across spouts, bolts and state spouts; the worker count
// lives in the topology conf, not here.
struct StormTopology {
  1: required map<string, SpoutSpec> spouts;
  2: required map<string, Bolt> bolts;
  3: required map<string, StateSpoutSpec> state_spouts;
  4: optional list<binary> worker_hooks;
  5: optional list<string> dependency_jars;
  6: optional list<string> dependency_artifacts;
  7: optional string storm_version;
  8: optional string jdk_version;
  9: optional map<string, set<string>> component_to_shared_memory;
  10: optional map<string, SharedMemory> shared_memory;
}

// ---------------------------------------------------------------------------------------------------
// Exceptions declared by the services (each carries only a message).
// ---------------------------------------------------------------------------------------------------

exception AlreadyAliveException {
  1: required string msg;
}

exception NotAliveException {
  1: required string msg;
}

exception AuthorizationException {
  1: required string msg;
}

exception InvalidTopologyException {
  1: required string msg;
}

exception KeyNotFoundException {
  1: required string msg;
}

exception IllegalStateException {
  1: required string msg;
}

exception KeyAlreadyExistsException {
  1: required string msg;
}

// ---------------------------------------------------------------------------------------------------
// Cluster and topology summaries (getClusterInfo, `storm list`, the UI).
// Field ids 513+ and 521+ are Storm's resource-aware-scheduler additions; the gaps are Storm's too.
// ---------------------------------------------------------------------------------------------------

struct TopologySummary {
  1: required string id;
  2: required string name;
  3: required i32 num_tasks;
  4: required i32 num_executors;
  5: required i32 num_workers;
  6: required i32 uptime_secs;
  7: required string status;                 // "ACTIVE", "INACTIVE", "REBALANCING", "KILLED"
  8: optional string storm_version;
  9: optional string topology_version;
  513: optional string sched_status;
  514: optional string owner;
  515: optional i32 replication_count;
  521: optional double requested_memonheap;
  522: optional double requested_memoffheap;
  523: optional double requested_cpu;
  524: optional double assigned_memonheap;
  525: optional double assigned_memoffheap;
  526: optional double assigned_cpu;
  527: optional map<string, double> requested_generic_resources;
  528: optional map<string, double> assigned_generic_resources;
}

struct SupervisorSummary {
  1: required string host;
  2: required i32 uptime_secs;
  3: required i32 num_workers;                // slots
  4: required i32 num_used_workers;           // used slots
  5: required string supervisor_id;
  6: optional string version = "VERSION_NOT_PROVIDED";
  7: optional map<string, double> total_resources;
  8: optional double used_mem;
  9: optional double used_cpu;
  10: optional double fragmented_mem;
  11: optional double fragmented_cpu;
  12: optional bool blacklisted;
  13: optional map<string, double> used_generic_resources;
}

// One nimbus. In /storm/nimbuses/<id> `uptime_secs` holds the launch time (epoch seconds) and
// `isLeader` is false; getClusterInfo/getLeader turn that into a real uptime and leader flag.
struct NimbusSummary {
  1: required string host;
  2: required i32 port;
  3: required i32 uptime_secs;
  4: required bool isLeader;
  5: required string version;
  6: optional i32 tlsPort;
}

struct ClusterSummary {
  1: required list<SupervisorSummary> supervisors;
  // 2 is retired (Storm 1.x's nimbus_uptime_secs); never reuse it.
  3: required list<TopologySummary> topologies;
  4: required list<NimbusSummary> nimbuses;
}

// A reported component error (/storm/errors/...).
struct ErrorInfo {
  1: required string error;                   // the error text (a stack trace in Storm)
  2: required i32 error_time_secs;
  3: optional string host;
  4: optional i32 port;
}

// ---------------------------------------------------------------------------------------------------
// Executor statistics. Outer map keys are time windows ("600", "10800", "86400", ":all-time"), inner
// keys are stream ids (or, for bolts, input GlobalStreamIds).
// ---------------------------------------------------------------------------------------------------

struct BoltStats {
  1: required map<string, map<GlobalStreamId, i64>> acked;
  2: required map<string, map<GlobalStreamId, i64>> failed;
  3: required map<string, map<GlobalStreamId, double>> process_ms_avg;
  4: required map<string, map<GlobalStreamId, i64>> executed;
  5: required map<string, map<GlobalStreamId, double>> execute_ms_avg;
}

struct SpoutStats {
  1: required map<string, map<string, i64>> acked;
  2: required map<string, map<string, i64>> failed;
  3: required map<string, map<string, double>> complete_ms_avg;
  // storm-rs: `failed` split by cause (they sum to it): trees that timed out, trees a bolt failed.
  9001: optional map<string, map<string, i64>> failed_timeout;
  9002: optional map<string, map<string, i64>> failed_explicit;
}

union ExecutorSpecificStats {
  1: BoltStats bolt;
  2: SpoutStats spout;
}

struct ExecutorStats {
  1: required map<string, map<string, i64>> emitted;
  2: required map<string, map<string, i64>> transferred;
  3: required ExecutorSpecificStats specific;
  4: required double rate;                    // sampling rate of the counters
  // storm-rs: errors the executor reported, window -> count.
  9001: optional map<string, i64> reported_errors;
}

// An executor: the inclusive task-id range it runs.
struct ExecutorInfo {
  1: required i32 task_start;
  2: required i32 task_end;
}

struct ExecutorSummary {
  1: required ExecutorInfo executor_info;
  2: required string component_id;
  3: required string host;
  4: required i32 port;
  5: required i32 uptime_secs;
  // 6 is unused in Storm's schema.
  7: optional ExecutorStats stats;
}

// Event-logger sampling for a topology or one component.
struct DebugOptions {
  1: optional bool enable;
  2: optional double samplingpct;
}

struct TopologyInfo {
  1: required string id;
  2: required string name;
  3: required i32 uptime_secs;
  4: required list<ExecutorSummary> executors;
  5: required string status;
  6: required map<string, list<ErrorInfo>> errors;   // component id -> errors, newest first
  7: optional map<string, DebugOptions> component_debug;
  8: optional string storm_version;
  513: optional string sched_status;
  514: optional string owner;
  515: optional i32 replication_count;
  521: optional double requested_memonheap;
  522: optional double requested_memoffheap;
  523: optional double requested_cpu;
  524: optional double assigned_memonheap;
  525: optional double assigned_memoffheap;
  526: optional double assigned_cpu;
}

// ---------------------------------------------------------------------------------------------------
// Aggregated statistics for the UI's topology, component and supervisor pages.
// ---------------------------------------------------------------------------------------------------

struct CommonAggregateStats {
  1: optional i32 num_executors;
  2: optional i32 num_tasks;
  3: optional i64 emitted;
  4: optional i64 transferred;
  5: optional i64 acked;
  6: optional i64 failed;
  7: optional map<string, double> resources_map;
  // storm-rs: errors the executors reported in the window.
  9001: optional i64 reported_errors;
}

struct SpoutAggregateStats {
  1: optional double complete_latency_ms;
  // storm-rs: `failed` by cause in the window (see SpoutStats).
  9001: optional i64 failed_timeout;
  9002: optional i64 failed_explicit;
}

struct BoltAggregateStats {
  1: optional double execute_latency_ms;
  2: optional double process_latency_ms;
  3: optional i64 executed;
  4: optional double capacity;
}

union SpecificAggregateStats {
  1: BoltAggregateStats bolt;
  2: SpoutAggregateStats spout;
}

enum ComponentType {
  BOLT = 1,
  SPOUT = 2
}

struct ComponentAggregateStats {
  1: optional ComponentType type;
  2: optional CommonAggregateStats common_stats;
  3: optional SpecificAggregateStats specific_stats;
  4: optional ErrorInfo last_error;
}

struct TopologyStats {
  1: optional map<string, i64> window_to_emitted;
  2: optional map<string, i64> window_to_transferred;
  3: optional map<string, double> window_to_complete_latencies_ms;
  4: optional map<string, i64> window_to_acked;
  5: optional map<string, i64> window_to_failed;
  // storm-rs: spout failures by cause and reported errors, window -> count.
  9001: optional map<string, i64> window_to_failed_timeout;
  9002: optional map<string, i64> window_to_failed_explicit;
  9003: optional map<string, i64> window_to_reported_errors;
}

struct WorkerSummary {
  1: optional string supervisor_id;
  2: optional string host;
  3: optional i32 port;
  4: optional string topology_id;
  5: optional string topology_name;
  6: optional i32 num_executors;
  7: optional map<string, i64> component_to_num_tasks;
  8: optional i32 time_secs;
  9: optional i32 uptime_secs;
  521: optional double requested_memonheap;
  522: optional double requested_memoffheap;
  523: optional double requested_cpu;
  524: optional double assigned_memonheap;
  525: optional double assigned_memoffheap;
  526: optional double assigned_cpu;
  527: optional string owner;
}

struct SupervisorPageInfo {
  1: optional list<SupervisorSummary> supervisor_summaries;
  2: optional list<WorkerSummary> worker_summaries;
}

struct TopologyPageInfo {
  1: required string id;
  2: optional string name;
  3: optional i32 uptime_secs;
  4: optional string status;
  5: optional i32 num_tasks;
  6: optional i32 num_workers;
  7: optional i32 num_executors;
  8: optional string topology_conf;                                   // JSON
  9: optional map<string, ComponentAggregateStats> id_to_spout_agg_stats;
  10: optional map<string, ComponentAggregateStats> id_to_bolt_agg_stats;
  11: optional string sched_status;
  12: optional TopologyStats topology_stats;
  13: optional string owner;
  14: optional DebugOptions debug_options;
  15: optional i32 replication_count;
  16: optional list<WorkerSummary> workers;
  17: optional string storm_version;
  18: optional string topology_version;
  521: optional double requested_memonheap;
  522: optional double requested_memoffheap;
  523: optional double requested_cpu;
  524: optional double assigned_memonheap;
  525: optional double assigned_memoffheap;
  526: optional double assigned_cpu;
  527: optional double requested_regular_on_heap_memory;
  528: optional double requested_shared_on_heap_memory;
  529: optional double requested_regular_off_heap_memory;
  530: optional double requested_shared_off_heap_memory;
  531: optional double assigned_regular_on_heap_memory;
  532: optional double assigned_shared_on_heap_memory;
  533: optional double assigned_regular_off_heap_memory;
  534: optional double assigned_shared_off_heap_memory;
  535: optional map<string, double> requested_generic_resources;
  536: optional map<string, double> assigned_generic_resources;
}

struct ExecutorAggregateStats {
  1: optional ExecutorSummary exec_summary;
  2: optional ComponentAggregateStats stats;
}

struct ComponentPageInfo {
  1: required string component_id;
  2: required ComponentType component_type;
  3: optional string topology_id;
  4: optional string topology_name;
  5: optional i32 num_executors;
  6: optional i32 num_tasks;
  7: optional map<string, ComponentAggregateStats> window_to_stats;
  8: optional map<GlobalStreamId, ComponentAggregateStats> gsid_to_input_stats;
  9: optional map<string, ComponentAggregateStats> sid_to_output_stats;
  10: optional list<ExecutorAggregateStats> exec_stats;
  11: optional list<ErrorInfo> errors;
  12: optional string eventlog_host;
  13: optional i32 eventlog_port;
  14: optional DebugOptions debug_options;
  15: optional string topology_status;
  16: optional map<string, double> resources_map;
}

// ---------------------------------------------------------------------------------------------------
// Options of the lifecycle calls.
// ---------------------------------------------------------------------------------------------------

struct KillOptions {
  1: optional i32 wait_secs;
}

struct RebalanceOptions {
  1: optional i32 wait_secs;
  2: optional i32 num_workers;
  3: optional map<string, i32> num_executors;                           // component id -> executors
  4: optional map<string, map<string, double>> topology_resources_overrides;
  5: optional string topology_conf_overrides;                           // JSON
  6: optional string principal;                                         // set by nimbus, not by users
}

struct Credentials {
  1: required map<string, string> creds;
  2: optional string topoOwner;
}

enum TopologyInitialStatus {
  ACTIVE = 1,
  INACTIVE = 2
}

struct SubmitOptions {
  1: required TopologyInitialStatus initial_status;
  2: optional Credentials creds;
}

// ---------------------------------------------------------------------------------------------------
// Blob store.
// ---------------------------------------------------------------------------------------------------

enum AccessControlType {
  OTHER = 1,
  USER = 2
}

struct AccessControl {
  1: required AccessControlType type;
  2: optional string name;                    // user (or group) name
  3: required i32 access;                     // bit set: 1 read, 2 write, 4 admin
}

struct SettableBlobMeta {
  1: required list<AccessControl> acl;
  2: optional i32 replication_factor;
}

struct ReadableBlobMeta {
  1: required SettableBlobMeta settable;
  2: required i64 version;                    // changes whenever the blob's content changes
}

struct ListBlobsResult {
  1: required list<string> keys;
  2: required string session;
}

struct BeginDownloadResult {
  1: required i64 version;
  2: required string session;
  3: optional i64 data_size;
}

// ---------------------------------------------------------------------------------------------------
// Cluster state kept in ZooKeeper (gzip(TBinary) payloads; see storm-internals §1.3).
// ---------------------------------------------------------------------------------------------------

// /storm/supervisors/<supervisor-id>, refreshed by each supervisor.
struct SupervisorInfo {
  1: required i64 time_secs;
  2: required string hostname;
  3: optional string assignment_id;
  4: optional list<i64> used_ports;
  5: optional list<i64> meta;                 // all configured slot ports
  6: optional map<string, string> scheduler_meta;
  7: optional i64 uptime_secs;
  8: optional string version;
  9: optional map<string, double> resources_map;
  10: optional i32 server_port;               // the supervisor's own Thrift port
}

// A slot: supervisor (node) id and its port (a set holding a single port in practice).
struct NodeInfo {
  1: required string node;
  2: required set<i64> port;
}

struct WorkerResources {
  1: optional double mem_on_heap;
  2: optional double mem_off_heap;
  3: optional double cpu;
  4: optional double shared_mem_on_heap;      // accounting only
  5: optional double shared_mem_off_heap;     // accounting only
  6: optional map<string, double> resources;
  7: optional map<string, double> shared_resources;
}

// /storm/assignments/<topology-id>. Executor keys are [task_start, task_end].
struct Assignment {
  1: required string master_code_dir;
  2: optional map<string, string> node_host = {};
  3: optional map<list<i64>, NodeInfo> executor_node_port = {};
  4: optional map<list<i64>, i64> executor_start_time_secs = {};
  5: optional map<NodeInfo, WorkerResources> worker_resources = {};
  6: optional map<string, double> total_shared_off_heap = {};
  7: optional string owner;
}

enum TopologyStatus {
  ACTIVE = 1,
  INACTIVE = 2,
  REBALANCING = 3,
  KILLED = 4
}

// The pending action of a topology that is being killed or rebalanced.
union TopologyActionOptions {
  1: optional KillOptions kill_options;
  2: optional RebalanceOptions rebalance_options;
}

// /storm/storms/<topology-id>.
struct StormBase {
  1: required string name;
  2: required TopologyStatus status;
  3: required i32 num_workers;
  4: optional map<string, i32> component_executors;
  5: optional i32 launch_time_secs;
  6: optional string owner;
  7: optional TopologyActionOptions topology_action_options;
  8: optional TopologyStatus prev_status;     // the status to return to after a rebalance
  9: optional map<string, DebugOptions> component_debug;   // keyed by component id or topology id
  10: optional string principal;
  11: optional string topology_version;
}

// /storm/workerbeats/<topology-id>/<node-id>-<port>.
struct ClusterWorkerHeartbeat {
  1: required string storm_id;
  2: required map<ExecutorInfo, ExecutorStats> executor_stats;
  3: required i32 time_secs;
  4: required i32 uptime_secs;
}

// ---------------------------------------------------------------------------------------------------
// LocalState: the supervisor's and workers' crash-safe files (storm-internals §2.6).
// ---------------------------------------------------------------------------------------------------

// One LocalState entry: the (Java) class name of the struct and its TBinary bytes.
struct ThriftSerializedObject {
  1: required string name;
  2: required binary bits;
}

// The content of one LocalState version file.
struct LocalStateData {
  1: required map<string, ThriftSerializedObject> serialized_parts;
}

// What one slot of a supervisor runs.
struct LocalAssignment {
  1: required string topology_id;
  2: required list<ExecutorInfo> executors;
  3: optional WorkerResources resources;
  4: optional double total_node_shared;       // memory shared by this topology's workers on the node
  5: optional string owner;
}

struct LSSupervisorId {
  1: required string supervisor_id;
}

// worker id -> port.
struct LSApprovedWorkers {
  1: required map<string, i32> approved_workers;
}

// port -> what runs there.
struct LSSupervisorAssignments {
  1: required map<i32, LocalAssignment> assignments;
}

// A worker's local heartbeat (workers/<worker-id>/heartbeats).
struct LSWorkerHeartbeat {
  1: required i32 time_secs;
  2: required string topology_id;
  3: required list<ExecutorInfo> executors;
  4: required i32 port;
}

struct LSTopoHistory {
  1: required string topology_id;
  2: required i64 time_stamp;
  3: required list<string> users;
  4: required list<string> groups;
}

struct LSTopoHistoryList {
  1: required list<LSTopoHistory> topo_history;
}

// ---------------------------------------------------------------------------------------------------
// Error reporting, profiling, dynamic log levels, history.
// ---------------------------------------------------------------------------------------------------

enum NumErrorsChoice {
  ALL = 0,
  NONE = 1,
  ONE = 2
}

enum ProfileAction {
  JPROFILE_STOP = 0,
  JPROFILE_START = 1,
  JPROFILE_DUMP = 2,
  JMAP_DUMP = 3,
  JSTACK_DUMP = 4,
  JVM_RESTART = 5
}

struct ProfileRequest {
  1: required NodeInfo nodeInfo;
  2: required ProfileAction action;
  3: optional i64 time_stamp;
}

struct GetInfoOptions {
  1: optional NumErrorsChoice num_err_choice;
}

enum LogLevelAction {
  UNCHANGED = 1,
  UPDATE = 2,
  REMOVE = 3
}

// A requested change of one logger's level, optionally reverted after a timeout.
struct LogLevel {
  1: required LogLevelAction action;
  2: optional string target_log_level;
  3: optional i32 reset_log_level_timeout_secs;   // 0: never revert
  4: optional i64 reset_log_level_timeout_epoch;  // filled in by nimbus: when to revert
  5: optional string reset_log_level;             // the level to revert to (INFO if unset)
}

// /storm/logconfigs/<topology-id>. Field 1 is unused in Storm's schema.
struct LogConfig {
  2: optional map<string, LogLevel> named_logger_level;   // logger name -> level change
}

struct TopologyHistoryInfo {
  1: list<string> topo_ids;
}

struct OwnerResourceSummary {
  1: required string owner;
  2: optional i32 total_topologies;
  3: optional i32 total_executors;
  4: optional i32 total_workers;
  5: optional double memory_usage;
  6: optional double cpu_usage;
  7: optional double memory_guarantee;
  8: optional double cpu_guarantee;
  9: optional double memory_guarantee_remaining;
  10: optional double cpu_guarantee_remaining;
  11: optional i32 isolated_node_guarantee;
  12: optional i32 total_tasks;
  13: optional double requested_on_heap_memory;
  14: optional double requested_off_heap_memory;
  15: optional double requested_total_memory;
  16: optional double requested_cpu;
  17: optional double assigned_on_heap_memory;
  18: optional double assigned_off_heap_memory;
}

// ---------------------------------------------------------------------------------------------------
// Supervisor <-> nimbus traffic of Storm 2 (assignments pushed or pulled, heartbeats, metrics).
// ---------------------------------------------------------------------------------------------------

struct SupervisorWorkerHeartbeat {
  1: required string storm_id;
  2: required list<ExecutorInfo> executors;
  3: required i32 time_secs;
}

struct SupervisorWorkerHeartbeats {
  1: required string supervisor_id;
  2: required list<SupervisorWorkerHeartbeat> worker_heartbeats;
}

// topology id -> assignment, for the topologies that have workers on one supervisor.
struct SupervisorAssignments {
  1: optional map<string, Assignment> storm_assignment = {};
}

struct WorkerMetricPoint {
  1: required string metricName;
  2: required i64 timestamp;
  3: required double metricValue;
  4: required string componentId;
  5: required string executorId;
  6: required string streamId;
}

struct WorkerMetricList {
  1: list<WorkerMetricPoint> metrics;
}

struct WorkerMetrics {
  1: required string topologyId;
  2: required i32 port;
  3: required string hostname;
  4: required WorkerMetricList metricList;
}

// ---------------------------------------------------------------------------------------------------
// Distributed RPC.
// ---------------------------------------------------------------------------------------------------

// A queued request handed to a DRPC spout; an empty request_id means "nothing queued".
struct DRPCRequest {
  1: required string func_args;
  2: required string request_id;
}

enum DRPCExceptionType {
  INTERNAL_ERROR = 0,
  SERVER_SHUTDOWN = 1,
  SERVER_TIMEOUT = 2,
  FAILED_REQUEST = 3
}

exception DRPCExecutionException {
  1: required string msg;
  2: optional DRPCExceptionType type;
}

// ---------------------------------------------------------------------------------------------------
// Services.
// ---------------------------------------------------------------------------------------------------

// nimbus, on nimbus.thrift.port (6627): framed transport, binary protocol.
service Nimbus {
  // Topology lifecycle.
  void submitTopology(1: string name, 2: string uploadedJarLocation, 3: string jsonConf,
                      4: StormTopology topology)
    throws (1: AlreadyAliveException e, 2: InvalidTopologyException ite, 3: AuthorizationException aze);
  void submitTopologyWithOpts(1: string name, 2: string uploadedJarLocation, 3: string jsonConf,
                              4: StormTopology topology, 5: SubmitOptions options)
    throws (1: AlreadyAliveException e, 2: InvalidTopologyException ite, 3: AuthorizationException aze);
  void killTopology(1: string name) throws (1: NotAliveException e, 2: AuthorizationException aze);
  void killTopologyWithOpts(1: string name, 2: KillOptions options)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  void activate(1: string name) throws (1: NotAliveException e, 2: AuthorizationException aze);
  void deactivate(1: string name) throws (1: NotAliveException e, 2: AuthorizationException aze);
  void rebalance(1: string name, 2: RebalanceOptions options)
    throws (1: NotAliveException e, 2: InvalidTopologyException ite, 3: AuthorizationException aze);

  // Dynamic log levels (no declared exceptions).
  void setLogConfig(1: string name, 2: LogConfig config);
  LogConfig getLogConfig(1: string name);

  // Event-logger sampling for a whole topology (empty component) or one component.
  void debug(1: string name, 2: string component, 3: bool enable, 4: double samplingPercentage)
    throws (1: NotAliveException e, 2: AuthorizationException aze);

  // Worker profiling requests (no declared exceptions).
  void setWorkerProfiler(1: string id, 2: ProfileRequest profileRequest);
  list<ProfileRequest> getComponentPendingProfileActions(1: string id, 2: string component_id,
                                                         3: ProfileAction action);

  void uploadNewCredentials(1: string name, 2: Credentials creds)
    throws (1: NotAliveException e, 2: InvalidTopologyException ite, 3: AuthorizationException aze);

  // Blob store.
  string beginCreateBlob(1: string key, 2: SettableBlobMeta meta)
    throws (1: AuthorizationException aze, 2: KeyAlreadyExistsException kae);
  string beginUpdateBlob(1: string key) throws (1: AuthorizationException aze, 2: KeyNotFoundException knf);
  void uploadBlobChunk(1: string session, 2: binary chunk) throws (1: AuthorizationException aze);
  void finishBlobUpload(1: string session) throws (1: AuthorizationException aze);
  void cancelBlobUpload(1: string session) throws (1: AuthorizationException aze);
  ReadableBlobMeta getBlobMeta(1: string key)
    throws (1: AuthorizationException aze, 2: KeyNotFoundException knf);
  void setBlobMeta(1: string key, 2: SettableBlobMeta meta)
    throws (1: AuthorizationException aze, 2: KeyNotFoundException knf);
  BeginDownloadResult beginBlobDownload(1: string key)
    throws (1: AuthorizationException aze, 2: KeyNotFoundException knf);
  binary downloadBlobChunk(1: string session) throws (1: AuthorizationException aze);
  void deleteBlob(1: string key)
    throws (1: AuthorizationException aze, 2: KeyNotFoundException knf, 3: IllegalStateException ise);
  ListBlobsResult listBlobs(1: string session);   // "" starts a new listing
  i32 getBlobReplication(1: string key) throws (1: AuthorizationException aze, 2: KeyNotFoundException knf);
  i32 updateBlobReplication(1: string key, 2: i32 replication)
    throws (1: AuthorizationException aze, 2: KeyNotFoundException knf);
  void createStateInZookeeper(1: string key);

  // Topology artifact upload (and the legacy download): chunks until an empty chunk comes back.
  string beginFileUpload() throws (1: AuthorizationException aze);
  void uploadChunk(1: string location, 2: binary chunk) throws (1: AuthorizationException aze);
  void finishFileUpload(1: string location) throws (1: AuthorizationException aze);
  string beginFileDownload(1: string file) throws (1: AuthorizationException aze);   // Storm 1.x only
  binary downloadChunk(1: string id) throws (1: AuthorizationException aze);

  // Cluster and topology information.
  string getNimbusConf() throws (1: AuthorizationException aze);                    // JSON
  ClusterSummary getClusterInfo() throws (1: AuthorizationException aze);
  list<TopologySummary> getTopologySummaries() throws (1: AuthorizationException aze);
  TopologySummary getTopologySummaryByName(1: string name)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  TopologySummary getTopologySummary(1: string id)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  NimbusSummary getLeader() throws (1: AuthorizationException aze);
  bool isTopologyNameAllowed(1: string name) throws (1: AuthorizationException aze);
  TopologyInfo getTopologyInfoByName(1: string name)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  TopologyInfo getTopologyInfo(1: string id) throws (1: NotAliveException e, 2: AuthorizationException aze);
  TopologyInfo getTopologyInfoByNameWithOpts(1: string name, 2: GetInfoOptions options)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  TopologyInfo getTopologyInfoWithOpts(1: string id, 2: GetInfoOptions options)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  TopologyPageInfo getTopologyPageInfo(1: string id, 2: string window, 3: bool is_include_sys)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  SupervisorPageInfo getSupervisorPageInfo(1: string id, 2: string host, 3: bool is_include_sys)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  ComponentPageInfo getComponentPageInfo(1: string topology_id, 2: string component_id, 3: string window,
                                         4: bool is_include_sys)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  string getTopologyConf(1: string id) throws (1: NotAliveException e, 2: AuthorizationException aze);  // JSON
  // The topology as nimbus runs it (with ackers, system components and metrics consumers).
  StormTopology getTopology(1: string id) throws (1: NotAliveException e, 2: AuthorizationException aze);
  // The topology exactly as it was submitted.
  StormTopology getUserTopology(1: string id) throws (1: NotAliveException e, 2: AuthorizationException aze);
  TopologyHistoryInfo getTopologyHistory(1: string user) throws (1: AuthorizationException aze);
  list<OwnerResourceSummary> getOwnerResourceSummaries(1: string owner) throws (1: AuthorizationException aze);

  // Supervisors and workers.
  SupervisorAssignments getSupervisorAssignments(1: string node) throws (1: AuthorizationException aze);
  void sendSupervisorWorkerHeartbeats(1: SupervisorWorkerHeartbeats heartbeats)
    throws (1: AuthorizationException aze);
  // Storm spells this argument "heatbeat"; argument names never reach the binary wire.
  void sendSupervisorWorkerHeartbeat(1: SupervisorWorkerHeartbeat heatbeat)
    throws (1: AuthorizationException aze, 2: NotAliveException e);
  void processWorkerMetrics(1: WorkerMetrics metrics);
  bool isRemoteBlobExists(1: string blobKey) throws (1: AuthorizationException aze);
}

// drpc, client side, on drpc.port (3772).
service DistributedRPC {
  string execute(1: string functionName, 2: string funcArgs)
    throws (1: DRPCExecutionException e, 2: AuthorizationException aze);
}

// drpc, topology side, on drpc.invocations.port (3773): used by DRPC spouts and ReturnResults.
service DistributedRPCInvocations {
  void result(1: string id, 2: string result) throws (1: AuthorizationException aze);
  DRPCRequest fetchRequest(1: string functionName) throws (1: AuthorizationException aze);
  void failRequest(1: string id) throws (1: AuthorizationException aze);
  void failRequestV2(1: string id, 2: DRPCExecutionException e) throws (1: AuthorizationException aze);
}

// A supervisor's own Thrift server (supervisor.thrift.port): nimbus pushes assignments, local workers
// fetch theirs and report heartbeats.
service Supervisor {
  void sendSupervisorAssignments(1: SupervisorAssignments assignments) throws (1: AuthorizationException aze);
  Assignment getLocalAssignmentForStorm(1: string id)
    throws (1: NotAliveException e, 2: AuthorizationException aze);
  void sendSupervisorWorkerHeartbeat(1: SupervisorWorkerHeartbeat heartbeat)
    throws (1: AuthorizationException aze);
}
