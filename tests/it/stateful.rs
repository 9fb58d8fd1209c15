//! Stateful bolts against a real Redis (`redis_support`): the Redis key-value state's layout,
//! prepare/commit/rollback and restart behaviour, and the `stateful_word_count` example on a real
//! cluster (`storm jar`, two supervisors) with a worker `kill -9` mid-run and Redis stopped and
//! restarted: afterwards every message id is in the committed state (no loss), ids acked before the
//! kill are counted exactly once (no committed batch applied twice; replays of ids in flight at the
//! kill are Storm's at-least-once), and the committed word counts are exactly the words of the
//! applied messages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use storm::local::durable::{ledger, ledger_sentence, ID_BLOCK};
use storm::state::redis::{RedisKeyValueState, RedisStateConfig, Reply, RespConnection};
use storm::state::{decode_key, decode_state_value, KeyValueState};
use storm::thrift::TNimbusSyncClient;
use storm::tuple::Value;

use crate::cluster_support::{alive, TestCluster};
use crate::redis_support::RedisServer;
use crate::support::{storm_bin, wait_until};

const LONG: Duration = Duration::from_secs(120);

fn config(redis: &RedisServer) -> RedisStateConfig {
    RedisStateConfig {
        jedis_pool_config: Some(redis.pool()),
        ..RedisStateConfig::default()
    }
}

fn state(redis: &RedisServer, ns: &str) -> KeyValueState {
    KeyValueState::new(Box::new(RedisKeyValueState::new(ns, config(redis))))
}

fn hgetall(conn: &mut RespConnection, key: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Reply::Array(Some(items)) = conn.command(&[b"HGETALL", key.as_bytes()]).unwrap() {
        for pair in items.chunks(2) {
            if let [Reply::Bulk(Some(k)), Reply::Bulk(Some(v))] = pair {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// The committed entries of hash `ns`, decoded.
fn committed(conn: &mut RespConnection, ns: &str) -> BTreeMap<String, Value> {
    hgetall(conn, ns)
        .into_iter()
        .map(|(k, v)| {
            let key = decode_key(ns, &k).unwrap();
            let value = decode_state_value(ns, &v)
                .unwrap()
                .expect("no tombstone committed");
            (format!("{key:?}"), value)
        })
        .collect()
}

#[test]
fn redis_state_prepares_commits_rolls_back_and_reloads_a_prepared_txn() {
    let mut redis = RedisServer::start("kv");
    let mut conn = redis.connect();
    let s = state(&redis, "count-7");
    s.put("apple", 1i64).unwrap();
    s.put("pear", 2i64).unwrap();
    assert_eq!(
        hgetall(&mut conn, "count-7").len(),
        0,
        "writes wait for a checkpoint"
    );
    s.prepare_commit(1).unwrap();
    assert_eq!(hgetall(&mut conn, "count-7$prepare").len(), 2);
    assert_eq!(hgetall(&mut conn, "count-7").len(), 0);
    s.commit_txid(1).unwrap();
    assert_eq!(committed(&mut conn, "count-7").len(), 2);
    assert!(hgetall(&mut conn, "count-7$prepare").is_empty());
    let txids = hgetall(&mut conn, "count-7$txid");
    assert_eq!(
        txids.get(b"commit".as_slice()).map(|v| v.as_slice()),
        Some(b"1".as_slice())
    );

    // A rolled-back transaction leaves the committed state alone.
    s.put("apple", 10i64).unwrap();
    s.delete("pear").unwrap();
    assert_eq!(s.get("pear").unwrap(), None);
    s.prepare_commit(2).unwrap();
    s.rollback().unwrap();
    assert_eq!(s.get("apple").unwrap(), Some(Value::Long(1)));
    assert_eq!(s.get("pear").unwrap(), Some(Value::Long(2)));
    assert!(
        s.commit_txid(1).is_ok(),
        "re-committing the committed txid is harmless"
    );
    assert!(s.prepare_commit(1).is_err(), "txid 1 is already committed");

    // A task that dies after prepare: its successor loads the prepared txn and the recovery COMMIT
    // commits it (the delete becomes an HDEL).
    s.put("apple", 3i64).unwrap();
    s.delete("pear").unwrap();
    s.prepare_commit(3).unwrap();
    drop(s);
    let again = state(&redis, "count-7");
    assert_eq!(
        again.get("apple").unwrap(),
        Some(Value::Long(3)),
        "sees the prepared value"
    );
    again.commit_txid(3).unwrap();
    let c = committed(&mut conn, "count-7");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(again.get("pear").unwrap(), None);

    // Redis down: a clear error, the pending write is kept, and the retry after a restart commits it.
    again.put("plum", 4i64).unwrap();
    redis.stop();
    let e = again.prepare_commit(4).unwrap_err().to_string();
    assert!(e.contains(&redis.addr()), "{e}");
    redis.restart();
    let mut conn = redis.connect();
    assert_eq!(
        committed(&mut conn, "count-7").len(),
        1,
        "committed state survived the restart"
    );
    again.prepare_commit(4).unwrap();
    again.commit_txid(4).unwrap();
    assert_eq!(committed(&mut conn, "count-7").len(), 2);
    assert_eq!(again.get("plum").unwrap(), Some(Value::Long(4)));
}

fn example(name: &str) -> PathBuf {
    let p = storm_bin().parent().unwrap().join("examples").join(name);
    assert!(
        p.is_file(),
        "{} is missing: build the examples (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The committed state of every `count` task: (word counts, words applied per message id).
fn redis_counts(redis: &RedisServer) -> (BTreeMap<String, i64>, BTreeMap<i64, i64>) {
    let mut conn = redis.connect();
    let mut words = BTreeMap::new();
    let mut ids = BTreeMap::new();
    let Reply::Array(Some(keys)) = conn.command(&[b"KEYS", b"count-*"]).unwrap() else {
        return (words, ids);
    };
    for key in keys {
        let Reply::Bulk(Some(key)) = key else {
            continue;
        };
        let ns = String::from_utf8(key).unwrap();
        if ns.contains('$') {
            continue;
        }
        for (k, v) in hgetall(&mut conn, &ns) {
            let key = decode_key(&ns, &k).unwrap();
            let count = decode_state_value(&ns, &v)
                .unwrap()
                .and_then(|v| v.as_i64());
            match (key, count) {
                (Value::Long(n), Some(c)) => *ids.entry(n).or_insert(0) += c,
                (Value::String(w), Some(c)) => *words.entry(w).or_insert(0) += c,
                other => panic!("unexpected entry in {ns}: {other:?}"),
            }
        }
    }
    (words, ids)
}

fn words_of(id: i64) -> i64 {
    ledger_sentence(id % ID_BLOCK).split_whitespace().count() as i64
}

fn topology_errors(c: &TestCluster, id: &str) -> Vec<String> {
    c.nimbus_client()
        .raw()
        .get_topology_info(id.to_string())
        .map(|info| {
            info.errors
                .values()
                .flatten()
                .map(|e| e.error.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn stateful_word_count_with_redis_survives_a_worker_kill_and_a_redis_restart() {
    let mut redis = RedisServer::start("swc");
    let mut c = TestCluster::start("swc", &[]);
    c.add_supervisor(2);
    c.add_supervisor(2);
    c.wait_supervisors(2);
    let data = c.dir.join("data");
    let limit: i64 = 600;
    let out = std::process::Command::new(storm_bin())
        .arg("--config")
        .arg(&c.config)
        .args([
            "jar",
            example("stateful_word_count").to_str().unwrap(),
            "swc",
        ])
        .args([
            "--redis",
            &redis.addr(),
            "--workers",
            "2",
            "--interval-ms",
            "500",
        ])
        .args(["--max-pending", "50", "--message-timeout", "10"])
        .args(["--limit", &limit.to_string(), "--ledger"])
        .arg(&data)
        .current_dir(&c.dir)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .env_remove("STORM_WORKER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "storm jar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = c.topology_id("swc").expect("swc submitted");
    wait_until(LONG, "the assignment to use both supervisors", || {
        c.slots(&id)
            .into_iter()
            .map(|s| s.0)
            .collect::<BTreeSet<_>>()
            .len()
            == 2
    });
    wait_until(LONG, "acks to start (after the first commits)", || {
        ledger(&data).1.len() > 60
    });

    // kill -9 one worker mid-run.
    let before_kill = ledger(&data).1;
    let victim = *c.supervisors[0]
        .worker_pids()
        .first()
        .expect("a worker on supervisor0");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        (ledger(&data).0.len() as i64) < 2 * limit,
        "the kill must come mid-run: every sentence was already emitted"
    );
    wait_until(LONG, "a new worker on supervisor0", || {
        c.supervisors[0]
            .worker_pids()
            .iter()
            .any(|&p| p != victim && alive(p))
    });
    let after_kill = ledger(&data).1.len();
    wait_until(LONG, "acks to resume after the recovery", || {
        ledger(&data).1.len() > after_kill + 50
    });

    // Redis down mid-run: checkpoints fail with a clear error and are retried once it is back.
    redis.stop();
    wait_until(LONG, "the Redis error to be reported", || {
        topology_errors(&c, &id)
            .iter()
            .any(|e| e.contains(&format!("Redis state at {}", redis.addr())))
    });
    redis.restart();

    let mut last = (0, 0);
    let all_acked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "every emitted id to be acked", || {
            let (emitted, acked) = ledger(&data);
            last = (emitted.len(), acked.len());
            emitted.len() as i64 == 2 * limit && emitted.is_subset(&acked)
        })
    }));
    assert!(all_acked.is_ok(), "emitted/acked {last:?}\n{}", c.logs());

    let (emitted, _) = ledger(&data);
    let (words, applied) = redis_counts(&redis);
    // No loss: every message's words are in the committed state.
    let missing: Vec<_> = emitted
        .iter()
        .filter(|id| applied.get(id).copied().unwrap_or(0) < words_of(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "ids missing from the committed state: {missing:?}"
    );
    // A committed batch is never applied twice: ids acked before the kill count exactly once.
    let doubled: Vec<_> = before_kill
        .iter()
        .filter(|id| applied.get(id).copied().unwrap_or(0) != words_of(**id))
        .collect();
    assert!(
        doubled.is_empty(),
        "ids acked before the kill counted again: {doubled:?}"
    );
    // The word counts are exactly the words of the applied messages (checkpoints are atomic).
    let total_words: i64 = words.values().sum();
    let total_applied: i64 = applied.values().sum();
    assert_eq!(total_words, total_applied, "word counts vs applied words");
    let dups: i64 = emitted.iter().map(|id| applied[id] - words_of(*id)).sum();
    eprintln!(
        "stateful word count: {} ids, {} acked before the kill, {dups} words replayed after it",
        emitted.len(),
        before_kill.len()
    );
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for id in &emitted {
        for w in ledger_sentence(id % ID_BLOCK).split_whitespace() {
            *expected.entry(w.to_owned()).or_insert(0) += 1;
        }
    }
    for (w, n) in &expected {
        assert!(
            words.get(w).copied().unwrap_or(0) >= *n,
            "{w}: {words:?} < {expected:?}"
        );
    }
    let _ = c.nimbus_client().raw().kill_topology("swc".to_string());
}
