//! `topology.blobstore.map` on a live cluster (issue 19): blobs created with `storm blobstore`, a
//! topology naming them (one plain, one `uncompress`ed tar.gz), two supervisors whose workers read
//! them from their working directories under the local names, an update that reaches the running
//! workers without a restart, and a topology naming a missing blob refused at submit.

use std::path::Path;
use std::time::Duration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::durable::FileProbeSpout;

use crate::cluster_support::TestCluster;
use crate::support::wait_until;

const LONG: Duration = Duration::from_secs(90);

use crate::cluster_support::empty_jar;

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn cli(c: &TestCluster, args: &[&str]) -> (i32, String, String) {
    crate::java_support::storm_cli(c, args)
}

/// Every probe's (pid, what it read) once all `n` probes read `expected`.
fn probes_agree(dir: &Path, n: usize, expected: &[(&str, &str)]) -> Option<Vec<u32>> {
    let reports = FileProbeSpout::read_reports(dir);
    if reports.len() != n {
        return None;
    }
    let ok = reports.values().all(|(_, seen)| {
        expected
            .iter()
            .all(|(k, v)| seen.get(*k).map(String::as_str) == Some(*v))
    });
    ok.then(|| reports.values().map(|(pid, _)| *pid).collect())
}

#[test]
fn blobs_reach_workers_on_two_supervisors_and_updates_follow() {
    let mut c = TestCluster::start(
        "blobstore-map",
        &[("supervisor.localizer.update.blob.interval.secs", "1")],
    );
    c.add_supervisor(1);
    c.add_supervisor(1);
    c.wait_supervisors(2);

    let dict = c.dir.join("dict.txt");
    std::fs::write(&dict, "alpha").unwrap();
    let (code, out, err) = cli(
        &c,
        &["blobstore", "create", "-f", dict.to_str().unwrap(), "dict"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let geo = c.dir.join("geo.tgz");
    std::fs::write(&geo, tar_gz(&[("data/cities.txt", b"paris")])).unwrap();
    let (code, out, err) = cli(
        &c,
        &[
            "blobstore",
            "create",
            "-f",
            geo.to_str().unwrap(),
            "geo.tgz",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");

    let probes = c.dir.join("probes");
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "probe",
        FileProbeSpout::new(&["words.txt", "geo/data/cities.txt"], &probes),
        2,
    );
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2);
    conf.set(
        "topology.blobstore.map",
        serde_json::json!({
            "dict": {"localname": "words.txt"},
            "geo.tgz": {"localname": "geo", "uncompress": true}
        }),
    );
    let topology = b.create_topology().unwrap();
    storm::submitter::submit_to_cluster(&c.conf(), "blobmap", &conf, &topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("blobmap").expect("submitted");

    // Both workers (one per supervisor) read both blobs under their local names.
    let mut pids = Vec::new();
    wait_until(
        LONG,
        "both workers to read the blobs",
        || match probes_agree(
            &probes,
            2,
            &[("words.txt", "alpha"), ("geo/data/cities.txt", "paris")],
        ) {
            Some(p) => {
                pids = p;
                true
            }
            None => false,
        },
    );
    let slots = c.slots(&id);
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert_ne!(slots[0].0, slots[1].0, "two supervisors: {slots:?}");
    assert_ne!(pids[0], pids[1], "two worker processes");
    // Storm's layout: the topology's link to the cache's current version.
    for s in &c.supervisors {
        let local = s.local_dir();
        let link = local
            .join("supervisor/stormdist")
            .join(&id)
            .join("words.txt");
        assert!(
            std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()),
            "{}",
            link.display()
        );
        let user_dirs: Vec<_> = std::fs::read_dir(local.join("supervisor/usercache"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(user_dirs.len(), 1);
        let files = user_dirs[0].path().join("filecache");
        assert!(files.join("files/dict.current").exists());
        assert!(files
            .join("archives/geo.tgz.current/data/cities.txt")
            .is_file());
    }

    // An update reaches the running workers (no restart: same pids).
    std::fs::write(&dict, "beta").unwrap();
    let (code, _, err) = cli(
        &c,
        &["blobstore", "update", "-f", dict.to_str().unwrap(), "dict"],
    );
    assert_eq!(code, 0, "{err}");
    let mut after = Vec::new();
    wait_until(
        LONG,
        "both workers to read the new version",
        || match probes_agree(&probes, 2, &[("words.txt", "beta")]) {
            Some(p) => {
                after = p;
                true
            }
            None => false,
        },
    );
    let (mut before, mut now) = (pids.clone(), after.clone());
    before.sort();
    now.sort();
    assert_eq!(before, now, "the workers were not restarted");

    // A blob the topology uses cannot be deleted; a missing blob fails the submission.
    let (code, _, err) = cli(&c, &["blobstore", "delete", "dict"]);
    assert_eq!(code, 1);
    assert!(err.contains("IllegalStateException"), "{err}");
    let mut conf = TopologyConf::new();
    conf.set(
        "topology.blobstore.map",
        serde_json::json!({"nope": {"localname": "x"}}),
    );
    let e = storm::submitter::submit_to_cluster(
        &c.conf(),
        "blobmissing",
        &conf,
        &topology,
        &empty_jar(&c.dir),
    )
    .unwrap_err();
    assert!(e.to_string().contains("Key not found: nope"), "{e}");
    let mut conf = TopologyConf::new();
    conf.set(
        "topology.blobstore.map",
        serde_json::json!({"dict": {"localname": "../escape"}}),
    );
    let e = storm::submitter::submit_to_cluster(
        &c.conf(),
        "blobescape",
        &conf,
        &topology,
        &empty_jar(&c.dir),
    )
    .unwrap_err();
    assert!(e.to_string().contains("plain file name"), "{e}");

    let (code, _, err) = cli(&c, &["kill", "blobmap", "-w", "0"]);
    assert_eq!(code, 0, "{err}");
}
