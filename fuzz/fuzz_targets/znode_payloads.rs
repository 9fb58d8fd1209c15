//! Znode payloads as the cluster state reads them (`storm::cluster::codec`): gzip(Thrift) or plain
//! Thrift with a decompression cap, and the gzip(JSON) topology conf. Half the inputs are gzipped
//! first so that the Thrift reader behind the gzip layer is reached.
#![no_main]
use std::io::Write;

use libfuzzer_sys::fuzz_target;
use storm::cluster::codec::decode_with_limit;
use storm::thrift::*;

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, b)) = data.split_first() else {
        return;
    };
    let owned;
    let b = if sel & 0x80 != 0 {
        owned = gz(b);
        &owned[..]
    } else {
        b
    };
    const CAP: u64 = 1 << 20;
    let path = "/storm/fuzz";
    match sel & 0x7 {
        0 => drop(decode_with_limit::<Assignment>(path, b, CAP)),
        1 => drop(decode_with_limit::<StormBase>(path, b, CAP)),
        2 => drop(decode_with_limit::<SupervisorInfo>(path, b, CAP)),
        3 => drop(decode_with_limit::<ClusterWorkerHeartbeat>(path, b, CAP)),
        4 => drop(decode_with_limit::<ErrorInfo>(path, b, CAP)),
        5 => drop(decode_with_limit::<NimbusSummary>(path, b, CAP)),
        6 => drop(deserialize_any_with_limit::<StormTopology>(b, CAP)),
        _ => drop(gzip_json_to_conf_with_limit(b, CAP)),
    }
});
