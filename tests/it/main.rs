//! The integration tests (one test binary): they start a real ZooKeeper through `scripts/zookeeper.sh`,
//! run the real `storm` binary and daemons on loopback ports, use outside clients (thriftpy2 and
//! streamparse from PyPI) and always clean up the processes they start. Run them with `scripts/test.sh`,
//! which installs what they need.

mod authz;
mod bench_smoke;
mod blobstore_map;
mod cli;
mod cli_cluster;
mod cluster;
mod cluster_support;
mod drpc;
mod drpc_cluster;
mod drpc_topology;
mod garbage_frames;
mod hosts_support;
mod java_clients;
mod java_support;
mod java_topologies;
mod logviewer;
mod multihost;
mod multilang_cluster;
mod nimbus;
mod nimbus_ha;
mod redis_support;
mod rpc_heartbeats;
mod secure_thrift;
mod secure_tls;
mod secure_tls_links;
mod secure_tls_services;
mod secure_zk;
mod stateful;
mod stats_windows;
mod storm_cluster;
mod support;
mod thrift_compat;
mod ui;
mod windows_cluster;
