//! Znode payloads: Storm's Thrift structs written as gzip(Thrift binary) (Storm 2.x's
//! `GzipThriftSerializationDelegate`); reads accept gzip or plain Thrift binary.
//!
//! This adapts [`crate::thrift`]'s codecs (which own the encoding, the decompression cap
//! `storm.compression.gzip.max.decompressed.bytes` and the bounded Thrift reader) to the cluster
//! layer's error type: a payload that does not decode is a [`StorageError::Corrupt`] naming the znode,
//! never a panic.

use thrift::protocol::TSerializable;

use super::storage::{Op, StorageError};

/// gzip(Thrift binary) of `value`: what is written to a znode.
pub fn encode<T: TSerializable>(value: &T) -> Vec<u8> {
    crate::thrift::serialize_gzip(value)
}

/// Decodes a znode payload (gzip(Thrift) or plain Thrift binary) read from `path`.
pub fn decode<T: TSerializable>(path: &str, bytes: &[u8]) -> Result<T, StorageError> {
    decode_with_limit(
        path,
        bytes,
        crate::thrift::DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES,
    )
}

/// [`decode`] with an explicit decompression cap.
pub fn decode_with_limit<T: TSerializable>(
    path: &str,
    bytes: &[u8],
    max_decompressed: u64,
) -> Result<T, StorageError> {
    crate::thrift::deserialize_any_with_limit(bytes, max_decompressed).map_err(|e| {
        StorageError::Corrupt {
            op: Op::Decode,
            path: path.to_string(),
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{ErrorInfo, SupervisorInfo};

    fn error_info() -> ErrorInfo {
        ErrorInfo {
            error: "java.lang.RuntimeException: boom".into(),
            error_time_secs: 1_700_000_000,
            host: Some("host-1".into()),
            port: Some(6700),
        }
    }

    #[test]
    fn round_trips_gzip_and_plain() {
        let info = error_info();
        let gz = encode(&info);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(decode::<ErrorInfo>("/p", &gz).unwrap(), info);
        let plain = crate::thrift::serialize(&info);
        assert_eq!(decode::<ErrorInfo>("/p", &plain).unwrap(), info);
    }

    #[test]
    fn corrupt_payloads_are_errors_naming_the_path() {
        let plain = crate::thrift::serialize(&error_info());
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xff],
            plain[..plain.len() / 2].to_vec(),
            vec![0x1f, 0x8b, 0, 0],
            vec![0x28, 0xb5, 0x2f, 0xfd, 0],
            // A string field claiming 2^31-1 bytes, and one with a negative length.
            vec![11, 0, 1, 0x7f, 0xff, 0xff, 0xff],
            vec![11, 0, 1, 0xff, 0xff, 0xff, 0xfe],
            // A list of i64 claiming a huge size, and a negative size.
            vec![15, 0, 4, 10, 0x7f, 0xff, 0xff, 0xff],
            vec![15, 0, 4, 10, 0x80, 0, 0, 0],
            // Deep nesting.
            std::iter::repeat_n([12u8, 0, 1], 1000).flatten().collect(),
        ];
        // Wrong field types for SupervisorInfo (hostname as i32).
        cases.push(vec![
            10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 8, 0, 2, 0, 0, 0, 1, 0,
        ]);
        for bytes in cases {
            let err = decode::<SupervisorInfo>("/supervisors/s1", &bytes).unwrap_err();
            assert_eq!(err.path(), "/supervisors/s1");
            assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        }
    }

    #[test]
    fn decompression_is_capped() {
        let big = ErrorInfo {
            error: "x".repeat(10_000),
            ..error_info()
        };
        let gz = encode(&big);
        let err = decode_with_limit::<ErrorInfo>("/p", &gz, 1_000).unwrap_err();
        assert!(
            matches!(err, StorageError::Corrupt { .. }) && err.to_string().contains("1000"),
            "{err}"
        );
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode::<SupervisorInfo>("/p", &bytes);
            let _ = decode::<ErrorInfo>("/p", &bytes);
        }
    }
}
