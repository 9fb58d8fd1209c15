//! `storm blobstore`: Storm's blob store commands against the leader nimbus (Storm's
//! `org.apache.storm.command.Blobstore`): `list [KEY…]`, `cat [-f FILE] KEY`, `create [-f FILE]
//! [-a ACL] [-r N] KEY`, `update [-f FILE] KEY`, `delete KEY…`, `set-acl [-s ACL] KEY`,
//! `replication --read KEY` and `replication --update -r N KEY`. Content comes from the file or
//! stdin and goes to the file or stdout; long transfers show progress on a terminal.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use super::topology::nimbus_error;
use super::CliError;
use crate::client::blobs::{acl_to_string, parse_acl};
use crate::client::{NimbusClient, NimbusClientError};
use crate::config::Config;
use crate::thrift::{AccessControl, KeyNotFoundException, SettableBlobMeta};

#[derive(Debug, Subcommand)]
pub enum BlobstoreCommand {
    /// List blobs (all of them, or the KEYs given) as `KEY VERSION [ACL]`.
    List { keys: Vec<String> },
    /// Write a blob's content to FILE or stdout.
    Cat {
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        key: String,
    },
    /// Create a blob from FILE or stdin.
    Create {
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        /// Access control list: comma-separated [u|o]:[username]:[r-][w-][a-], e.g. u:alice:rwa,o::r--
        /// (repeatable). Without one the blob is readable and writable by everyone, as in an
        /// unsecured Storm.
        #[arg(short = 'a', long = "acl", value_name = "ACL", action = clap::ArgAction::Append)]
        acl: Vec<String>,
        /// The replication factor among nimbuses (Storm's default: -1, the cluster's).
        #[arg(
            short = 'r',
            long = "replication-factor",
            value_name = "N",
            allow_negative_numbers = true
        )]
        replication_factor: Option<i32>,
        key: String,
    },
    /// Replace a blob's content with FILE or stdin.
    Update {
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        key: String,
    },
    /// Delete blobs.
    Delete {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Set a blob's access control list.
    #[command(name = "set-acl")]
    SetAcl {
        /// The new ACL (comma-separated [u|o]:[username]:[r-][w-][a-]); without it the ACL is kept.
        #[arg(short = 's', long = "set", value_name = "ACL")]
        set: Option<String>,
        key: String,
    },
    /// Read (--read) or change (--update -r N) a blob's replication factor.
    Replication {
        #[arg(
            long = "read",
            conflicts_with = "update",
            required_unless_present = "update"
        )]
        read: bool,
        #[arg(long = "update", requires = "replication_factor")]
        update: bool,
        #[arg(short = 'r', long = "replication-factor", value_name = "N")]
        replication_factor: Option<i32>,
        key: String,
    },
}

/// Turns a nimbus client error into the one-line CLI error, with Storm's exception names.
fn blob_error(e: NimbusClientError) -> CliError {
    match e {
        NimbusClientError::Thrift { addr, source } => CliError::Other(nimbus_error(&addr, &source)),
        other => CliError::Nimbus(other),
    }
}

fn is_key_not_found(e: &NimbusClientError) -> bool {
    matches!(e, NimbusClientError::Thrift { source: thrift::Error::User(u), .. }
        if u.downcast_ref::<KeyNotFoundException>().is_some())
}

fn open_input(file: &Option<PathBuf>) -> Result<(Box<dyn Read>, Option<u64>), CliError> {
    match file {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::Other(format!("cannot read {}: {e}", path.display())))?;
            let size = f.metadata().ok().map(|m| m.len());
            Ok((Box::new(std::io::BufReader::new(f)), size))
        }
        None => Ok((Box::new(std::io::stdin().lock()), None)),
    }
}

fn parse_acls(texts: &[String]) -> Result<Vec<AccessControl>, CliError> {
    let mut acl = Vec::new();
    for t in texts {
        acl.extend(parse_acl(t).map_err(|e| CliError::Other(e.to_string()))?);
    }
    Ok(acl)
}

/// Runs one `storm blobstore` subcommand.
pub fn run(conf: &Config, command: &BlobstoreCommand) -> Result<(), CliError> {
    let mut client = NimbusClient::connect_leader(conf)?;
    match command {
        BlobstoreCommand::List { keys } => {
            let listed = keys.is_empty();
            let keys = if listed {
                client.list_blob_keys().map_err(blob_error)?
            } else {
                keys.clone()
            };
            for key in keys {
                match client.blob_meta(&key) {
                    Ok(meta) => println!(
                        "{key} {} {}",
                        meta.version,
                        acl_to_string(&meta.settable.acl)
                    ),
                    // A key deleted between the listing and this call is skipped, as Storm does;
                    // a key the user named is reported.
                    Err(e) if is_key_not_found(&e) => {
                        if !listed {
                            eprintln!("{key} NOT FOUND");
                        }
                    }
                    Err(e) => return Err(blob_error(e)),
                }
            }
            Ok(())
        }
        BlobstoreCommand::Cat { file, key } => {
            let mut progress = None;
            let mut on_chunk = |n: u64, size: Option<u64>| {
                if file.is_some() {
                    progress
                        .get_or_insert_with(|| {
                            super::progress::Progress::new(format!("downloading {key}"), size)
                        })
                        .inc(n);
                }
            };
            match file {
                Some(path) => {
                    // Written to a temporary name and renamed, so a failed download leaves no
                    // half file under the name asked for.
                    let tmp = path.with_extension("storm-rs-part");
                    let out = std::fs::File::create(&tmp).map_err(|e| {
                        CliError::Other(format!("cannot write {}: {e}", tmp.display()))
                    })?;
                    let mut out = std::io::BufWriter::new(out);
                    let result = client
                        .read_blob(key, &mut out, &mut on_chunk)
                        .map_err(blob_error)
                        .and_then(|_| {
                            out.flush().map_err(|e| {
                                CliError::Other(format!("cannot write {}: {e}", tmp.display()))
                            })
                        });
                    if let Err(e) = result {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(e);
                    }
                    std::fs::rename(&tmp, path).map_err(|e| {
                        CliError::Other(format!("cannot write {}: {e}", path.display()))
                    })?;
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut out = stdout.lock();
                    client
                        .read_blob(key, &mut out, &mut on_chunk)
                        .map_err(blob_error)?;
                    out.flush()
                        .map_err(|e| CliError::Other(format!("cannot write to stdout: {e}")))?;
                }
            }
            if let Some(p) = progress.as_mut() {
                p.finish();
            }
            Ok(())
        }
        BlobstoreCommand::Create {
            file,
            acl,
            replication_factor,
            key,
        } => {
            if !crate::nimbus::blobstore::is_valid_key(key) {
                return Err(CliError::Other(format!(
                    "{key} does not appear to be a valid blob key (letters, digits, _, -, ., space and tab only)"
                )));
            }
            let acl = parse_acls(acl)?;
            println!("Creating {key} with ACL {}", acl_to_string(&acl));
            let meta = SettableBlobMeta {
                acl,
                replication_factor: Some(replication_factor.unwrap_or(-1)),
            };
            let (mut input, size) = open_input(file)?;
            let mut progress = super::progress::Progress::new(format!("uploading {key}"), size);
            client
                .create_blob(key, meta, &mut input, &mut |n| progress.inc(n))
                .map_err(blob_error)?;
            progress.finish();
            println!("Successfully created {key}");
            Ok(())
        }
        BlobstoreCommand::Update { file, key } => {
            let (mut input, size) = open_input(file)?;
            let mut progress = super::progress::Progress::new(format!("uploading {key}"), size);
            client
                .update_blob(key, &mut input, &mut |n| progress.inc(n))
                .map_err(blob_error)?;
            progress.finish();
            println!("Successfully updated {key}");
            Ok(())
        }
        BlobstoreCommand::Delete { keys } => {
            for key in keys {
                client.delete_blob(key).map_err(blob_error)?;
                println!("deleted {key}");
            }
            Ok(())
        }
        BlobstoreCommand::SetAcl { set, key } => {
            let meta = client.blob_meta(key).map_err(blob_error)?;
            let acl = match set {
                Some(text) => parse_acls(std::slice::from_ref(text))?,
                None => meta.settable.acl.clone(),
            };
            println!("Setting ACL for {key} to {}", acl_to_string(&acl));
            client
                .set_blob_meta(
                    key,
                    SettableBlobMeta {
                        acl,
                        replication_factor: meta.settable.replication_factor,
                    },
                )
                .map_err(blob_error)
        }
        BlobstoreCommand::Replication {
            read: _,
            update,
            replication_factor,
            key,
        } => {
            if *update {
                let n = replication_factor.unwrap_or(-1);
                let now = client.update_blob_replication(key, n).map_err(blob_error)?;
                println!("Replication factor is set to {now}");
            } else {
                let now = client.blob_replication(key).map_err(blob_error)?;
                println!("Current replication factor {now}");
            }
            Ok(())
        }
    }
}
