//! The client side of nimbus's blob store, as Storm's `NimbusBlobStore` speaks it: create and update
//! by upload sessions (`beginCreateBlob`/`beginUpdateBlob`, `uploadBlobChunk`, `finishBlobUpload`,
//! `cancelBlobUpload` on any failure, so a broken transfer never leaves a half blob), reads by
//! download sessions until an empty chunk, paged key listings, metadata, replication; and Storm's ACL
//! text form (`[u|o]:[name]:[r-][w-][a-]`, `BlobStoreAclHandler.parseAccessControl` /
//! `accessControlToString`). `storm blobstore` and the supervisor's blob localizer use it.

use std::io::{Read, Write};

use super::{NimbusClient, NimbusClientError};
use crate::thrift::{
    AccessControl, AccessControlType, ReadableBlobMeta, SettableBlobMeta, TNimbusSyncClient,
};

/// Bytes per `uploadBlobChunk` (well under `nimbus.thrift.max_buffer_size`, Storm's 1 MiB default).
pub const UPLOAD_CHUNK: usize = 256 * 1024;

/// Blob access bits (Storm's `BlobStoreAclHandler`).
pub const READ: i32 = 1;
pub const WRITE: i32 = 2;
pub const ADMIN: i32 = 4;

/// A bad ACL text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad blob ACL {text:?}: {reason} (expected [u|o]:[username]:[r-][w-][a-], e.g. u:alice:rwa or o::r--)")]
pub struct AclError {
    pub text: String,
    pub reason: String,
}

/// Parses one access control as Storm does: `access` (others), `name:access` (a user) or
/// `type:name:access`, where type is `u`/`user`/`o`/`other` and access is made of `r`, `w`, `a`, `-`.
pub fn parse_access_control(text: &str) -> Result<AccessControl, AclError> {
    let bad = |reason: &str| AclError {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = text.split(':').collect();
    let (kind, name, access) = match parts.as_slice() {
        [access] => ("other", "", *access),
        [name, access] => ("user", *name, *access),
        [kind, name, access] => (*kind, *name, *access),
        _ => return Err(bad("more than three ':'-separated parts")),
    };
    let type_ = match kind.to_ascii_lowercase().as_str() {
        "o" | "other" => AccessControlType::OTHER,
        "u" | "user" => AccessControlType::USER,
        _ => return Err(bad(&format!("{kind} is not a valid access control type"))),
    };
    let mut bits = 0;
    for c in access.chars() {
        bits |= match c {
            'r' => READ,
            'w' => WRITE,
            'a' => ADMIN,
            '-' => 0,
            _ => return Err(bad(&format!("unknown access {c:?}"))),
        };
    }
    Ok(AccessControl {
        type_,
        name: Some(name.to_string()),
        access: bits,
    })
}

/// Parses a comma-separated ACL list (`u:alice:rwa,o::r--`).
pub fn parse_acl(text: &str) -> Result<Vec<AccessControl>, AclError> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_access_control(p.trim()))
        .collect()
}

/// Storm's `accessControlToString`: `u:alice:rwa`, `o::r--`.
pub fn access_control_to_string(ac: &AccessControl) -> String {
    let kind = if ac.type_ == AccessControlType::USER {
        "u"
    } else {
        "o"
    };
    let bit = |b: i32, c: char| if ac.access & b != 0 { c } else { '-' };
    format!(
        "{kind}:{}:{}{}{}",
        ac.name.as_deref().unwrap_or(""),
        bit(READ, 'r'),
        bit(WRITE, 'w'),
        bit(ADMIN, 'a')
    )
}

/// An ACL list as Java prints a `List<String>` of [`access_control_to_string`]: `[u:alice:rwa, o::r--]`.
pub fn acl_to_string(acl: &[AccessControl]) -> String {
    let parts: Vec<String> = acl.iter().map(access_control_to_string).collect();
    format!("[{}]", parts.join(", "))
}

impl NimbusClient {
    /// Creates blob `key` with `meta` from everything `data` yields; returns the bytes uploaded.
    /// `progress` is called with each chunk's size.
    pub fn create_blob(
        &mut self,
        key: &str,
        meta: SettableBlobMeta,
        data: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, NimbusClientError> {
        let session = self.call(|c| c.begin_create_blob(key.to_string(), meta))?;
        self.upload(session, data, progress)
    }

    /// Replaces blob `key`'s content with everything `data` yields; returns the bytes uploaded.
    pub fn update_blob(
        &mut self,
        key: &str,
        data: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, NimbusClientError> {
        let session = self.call(|c| c.begin_update_blob(key.to_string()))?;
        self.upload(session, data, progress)
    }

    fn upload(
        &mut self,
        session: String,
        data: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, NimbusClientError> {
        let result = (|| {
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            let mut total = 0u64;
            loop {
                let n = read_full(data, &mut buf).map_err(|source| NimbusClientError::Io {
                    what: "reading the blob's content".into(),
                    source,
                })?;
                if n == 0 {
                    break;
                }
                self.call(|c| c.upload_blob_chunk(session.clone(), buf[..n].to_vec()))?;
                total += n as u64;
                progress(n as u64);
                if n < buf.len() {
                    break;
                }
            }
            self.call(|c| c.finish_blob_upload(session.clone()))?;
            Ok(total)
        })();
        if result.is_err() {
            // Best effort: nimbus also drops idle sessions after nimbus.blobstore.expiration.secs.
            let _ = self.call(|c| c.cancel_blob_upload(session.clone()));
        }
        result
    }

    /// Writes blob `key`'s content to `out`; returns its metadata version and the bytes written.
    pub fn read_blob(
        &mut self,
        key: &str,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<(i64, u64), NimbusClientError> {
        let begin = self.call(|c| c.begin_blob_download(key.to_string()))?;
        let size = begin.data_size.and_then(|s| u64::try_from(s).ok());
        let mut total = 0u64;
        loop {
            let chunk = self.call(|c| c.download_blob_chunk(begin.session.clone()))?;
            if chunk.is_empty() {
                break;
            }
            out.write_all(&chunk)
                .map_err(|source| NimbusClientError::Io {
                    what: format!("writing blob {key}"),
                    source,
                })?;
            total += chunk.len() as u64;
            progress(chunk.len() as u64, size);
        }
        if let Some(size) = size {
            if total != size {
                return Err(NimbusClientError::Io {
                    what: format!("downloading blob {key}"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("got {total} of {size} bytes"),
                    ),
                });
            }
        }
        Ok((begin.version, total))
    }

    /// Every blob key, through `listBlobs` pages.
    pub fn list_blob_keys(&mut self) -> Result<Vec<String>, NimbusClientError> {
        let mut keys = Vec::new();
        let mut session = String::new();
        loop {
            let page = self.call(|c| c.list_blobs(session.clone()))?;
            if page.keys.is_empty() {
                break;
            }
            keys.extend(page.keys);
            session = page.session;
        }
        Ok(keys)
    }

    /// `getBlobMeta`.
    pub fn blob_meta(&mut self, key: &str) -> Result<ReadableBlobMeta, NimbusClientError> {
        self.call(|c| c.get_blob_meta(key.to_string()))
    }

    /// `setBlobMeta`.
    pub fn set_blob_meta(
        &mut self,
        key: &str,
        meta: SettableBlobMeta,
    ) -> Result<(), NimbusClientError> {
        self.call(|c| c.set_blob_meta(key.to_string(), meta))
    }

    /// `deleteBlob`.
    pub fn delete_blob(&mut self, key: &str) -> Result<(), NimbusClientError> {
        self.call(|c| c.delete_blob(key.to_string()))
    }

    /// `getBlobReplication`.
    pub fn blob_replication(&mut self, key: &str) -> Result<i32, NimbusClientError> {
        self.call(|c| c.get_blob_replication(key.to_string()))
    }

    /// `updateBlobReplication`.
    pub fn update_blob_replication(
        &mut self,
        key: &str,
        replication: i32,
    ) -> Result<i32, NimbusClientError> {
        self.call(|c| c.update_blob_replication(key.to_string(), replication))
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acls_parse_and_print_as_storm() {
        let acl = parse_acl("u:alice:rwa,o::r--,bob:r,rw").unwrap();
        assert_eq!(
            acl_to_string(&acl),
            "[u:alice:rwa, o::r--, u:bob:r--, o::rw-]"
        );
        assert_eq!(acl[0].access, READ | WRITE | ADMIN);
        assert_eq!(acl[1].type_, AccessControlType::OTHER);
        assert!(parse_acl("x:alice:r").is_err());
        assert!(parse_acl("u:alice:rwx").is_err());
        assert!(parse_acl("a:b:c:d").is_err());
        let e = parse_acl("u:alice:q").unwrap_err();
        assert!(e.to_string().contains("u:alice:rwa"), "{e}");
    }
}
