//! Storm's znode layout (what `ClusterUtils` holds), as pure functions. Paths are relative to
//! `storm.zookeeper.root` (the storage's chroot), e.g. `/assignments/<topology-id>`.
//!
//! Component ids in error paths are URL-encoded like Java's `URLEncoder.encode(id, "UTF-8")`.

/// `/assignments/<topology-id>`: `Assignment`, written by nimbus.
pub const ASSIGNMENTS_SUBTREE: &str = "/assignments";
/// `/storms/<topology-id>`: `StormBase`, written by nimbus.
pub const STORMS_SUBTREE: &str = "/storms";
/// `/supervisors/<supervisor-id>`: ephemeral `SupervisorInfo`.
pub const SUPERVISORS_SUBTREE: &str = "/supervisors";
/// `/workerbeats/<topology-id>/<node>-<port>`: `ClusterWorkerHeartbeat`.
pub const WORKERBEATS_SUBTREE: &str = "/workerbeats";
/// `/errors/<topology-id>/<component>/e<seq>` and `/errors/<topology-id>/<component>-last-error`.
pub const ERRORS_SUBTREE: &str = "/errors";
/// `/blobstore/<key>/<host:port>-<version>`.
pub const BLOBSTORE_SUBTREE: &str = "/blobstore";
/// `/blobstoremaxkeysequencenumber/<key>`: the latest update sequence number of a blob (4 bytes,
/// big-endian), written by the leader nimbus.
pub const BLOBSTORE_MAX_SEQUENCE_SUBTREE: &str = "/blobstoremaxkeysequencenumber";
/// `/nimbuses/<host:port>`: ephemeral `NimbusSummary`.
pub const NIMBUSES_SUBTREE: &str = "/nimbuses";
/// `/logconfigs/<topology-id>`: `LogConfig`.
pub const LOGCONFIG_SUBTREE: &str = "/logconfigs";
/// `/backpressure/<topology-id>`.
pub const BACKPRESSURE_SUBTREE: &str = "/backpressure";
/// `/credentials/<topology-id>`: `Credentials`.
pub const CREDENTIALS_SUBTREE: &str = "/credentials";
/// `/profilerconfigs/<topology-id>/...`: `ProfileRequest`s.
pub const PROFILERCONFIG_SUBTREE: &str = "/profilerconfigs";

/// What `StormClusterStateImpl` creates at construction, in Storm's order.
pub const ROOTS_CREATED_AT_START: [&str; 9] = [
    ASSIGNMENTS_SUBTREE,
    STORMS_SUBTREE,
    SUPERVISORS_SUBTREE,
    WORKERBEATS_SUBTREE,
    ERRORS_SUBTREE,
    BLOBSTORE_SUBTREE,
    NIMBUSES_SUBTREE,
    LOGCONFIG_SUBTREE,
    BACKPRESSURE_SUBTREE,
];

/// Suffix of the persistent last-error node next to a component's error directory.
pub const LAST_ERROR_SUFFIX: &str = "-last-error";

/// How many error nodes are kept per component.
pub const MAX_ERRORS_KEPT: usize = 10;

pub fn assignment_path(storm_id: &str) -> String {
    format!("{ASSIGNMENTS_SUBTREE}/{storm_id}")
}

pub fn storm_path(storm_id: &str) -> String {
    format!("{STORMS_SUBTREE}/{storm_id}")
}

pub fn supervisor_path(supervisor_id: &str) -> String {
    format!("{SUPERVISORS_SUBTREE}/{supervisor_id}")
}

pub fn nimbus_path(nimbus_id: &str) -> String {
    format!("{NIMBUSES_SUBTREE}/{nimbus_id}")
}

pub fn workerbeat_storm_root(storm_id: &str) -> String {
    format!("{WORKERBEATS_SUBTREE}/{storm_id}")
}

pub fn workerbeat_path(storm_id: &str, node: &str, port: u16) -> String {
    format!("{}/{node}-{port}", workerbeat_storm_root(storm_id))
}

pub fn error_storm_root(storm_id: &str) -> String {
    format!("{ERRORS_SUBTREE}/{storm_id}")
}

pub fn error_path(storm_id: &str, component_id: &str) -> String {
    format!(
        "{}/{}",
        error_storm_root(storm_id),
        url_encode(component_id)
    )
}

pub fn last_error_path(storm_id: &str, component_id: &str) -> String {
    format!("{}{LAST_ERROR_SUFFIX}", error_path(storm_id, component_id))
}

pub fn credentials_path(storm_id: &str) -> String {
    format!("{CREDENTIALS_SUBTREE}/{storm_id}")
}

pub fn log_config_path(storm_id: &str) -> String {
    format!("{LOGCONFIG_SUBTREE}/{storm_id}")
}

pub fn profiler_config_path(storm_id: &str) -> String {
    format!("{PROFILERCONFIG_SUBTREE}/{storm_id}")
}

pub fn backpressure_storm_root(storm_id: &str) -> String {
    format!("{BACKPRESSURE_SUBTREE}/{storm_id}")
}

pub fn blobstore_path(key: &str) -> String {
    format!("{BLOBSTORE_SUBTREE}/{key}")
}

pub fn blobstore_max_sequence_path(key: &str) -> String {
    format!("{BLOBSTORE_MAX_SEQUENCE_SUBTREE}/{key}")
}

/// Java's `URLEncoder.encode(s, "UTF-8")`: `A-Za-z0-9.-*_` stay, space becomes `+`, every other byte
/// is `%XX` (upper-case hex).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Java's `URLDecoder.decode(s, "UTF-8")`; `None` for malformed escapes or invalid UTF-8.
pub fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_storm() {
        assert_eq!(
            assignment_path("wc-1-1700000000"),
            "/assignments/wc-1-1700000000"
        );
        assert_eq!(storm_path("t"), "/storms/t");
        assert_eq!(supervisor_path("s"), "/supervisors/s");
        assert_eq!(nimbus_path("h:6627"), "/nimbuses/h:6627");
        assert_eq!(
            workerbeat_path("t", "node-1", 6700),
            "/workerbeats/t/node-1-6700"
        );
        assert_eq!(
            error_path("t", "split sentence"),
            "/errors/t/split+sentence"
        );
        assert_eq!(
            last_error_path("t", "count/x"),
            "/errors/t/count%2Fx-last-error"
        );
        assert_eq!(credentials_path("t"), "/credentials/t");
        assert_eq!(log_config_path("t"), "/logconfigs/t");
        assert_eq!(backpressure_storm_root("t"), "/backpressure/t");
        assert_eq!(
            blobstore_path("t-stormjar.jar"),
            "/blobstore/t-stormjar.jar"
        );
    }

    #[test]
    fn url_encoding_is_javas() {
        assert_eq!(url_encode("__acker"), "__acker");
        assert_eq!(url_encode("a.b-c*d_e"), "a.b-c*d_e");
        assert_eq!(url_encode("a b/c:d"), "a+b%2Fc%3Ad");
        assert_eq!(url_encode("ü"), "%C3%BC");
        for s in ["a b/c:d", "ü-x", "plain", "100%"] {
            assert_eq!(url_decode(&url_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(url_decode("%G1"), None);
        assert_eq!(url_decode("%4"), None);
    }
}
