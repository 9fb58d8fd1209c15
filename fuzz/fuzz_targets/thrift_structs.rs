//! Plain Thrift binary structs as storm-rs reads them from disk and ZooKeeper (`stormcode.ser`,
//! LocalState, znodes): `storm::thrift::deserialize` of every struct type a daemon reads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::thrift::*;

fn read<T: thrift::protocol::TSerializable + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(v) = deserialize::<T>(bytes) {
        // What decodes must encode and decode again.
        let again = serialize(&v);
        deserialize::<T>(&again).expect("re-decoding a re-encoded value");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, b)) = data.split_first() else {
        return;
    };
    match sel % 16 {
        0 => read::<StormTopology>(b),
        1 => read::<Assignment>(b),
        2 => read::<StormBase>(b),
        3 => read::<SupervisorInfo>(b),
        4 => read::<ClusterWorkerHeartbeat>(b),
        5 => read::<ErrorInfo>(b),
        6 => read::<NimbusSummary>(b),
        7 => read::<LSWorkerHeartbeat>(b),
        8 => read::<LocalAssignment>(b),
        9 => read::<LSSupervisorAssignments>(b),
        10 => read::<Credentials>(b),
        11 => read::<SettableBlobMeta>(b),
        12 => read::<LogConfig>(b),
        13 => read::<ProfileRequest>(b),
        14 => read::<ExecutorStats>(b),
        _ => read::<TopologyInfo>(b),
    }
});
