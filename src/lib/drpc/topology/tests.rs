use std::time::Duration;

use super::spout::{message_id, parse_message_id, servers_for_task, NO_SERVERS_MSG};
use super::*;
use crate::api::{
    ConfMap, EmitError, MessageId, Spout, SpoutOutput, SpoutOutputCollector, TopologyError,
};
use crate::thrift::DRPCExceptionType;
use crate::tuple::{Value, Values};

#[derive(Default)]
struct FakeSpoutOut {
    emitted: Vec<(Values, Option<MessageId>)>,
    errors: Vec<String>,
}

impl SpoutOutput for FakeSpoutOut {
    fn emit(
        &mut self,
        _stream: &str,
        values: Values,
        message_id: Option<MessageId>,
        _direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emitted.push((values, message_id));
        Ok(vec![1])
    }

    fn report_error(&mut self, message: String) {
        self.errors.push(message);
    }

    fn pending_count(&self) -> usize {
        0
    }
}

fn conf(pairs: serde_json::Value) -> ConfMap {
    pairs.as_object().unwrap().clone()
}

#[test]
fn drpc_return_info_json_round_trips_and_rejects_garbage() {
    let info = ReturnInfo {
        id: "7".into(),
        host: "drpc1".into(),
        port: 3773,
    };
    let json: serde_json::Value = serde_json::from_str(&info.to_json()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"id": "7", "host": "drpc1", "port": 3773})
    );
    assert_eq!(ReturnInfo::parse(&info.to_json()).unwrap(), info);
    // Key order and a string port do not matter; a local host needs no port.
    assert_eq!(
        ReturnInfo::parse(r#"{"port": "3773", "host": "drpc1", "id": "7"}"#).unwrap(),
        info
    );
    assert_eq!(
        ReturnInfo::parse(r#"{"id": "1", "host": "local:abc"}"#)
            .unwrap()
            .port,
        0
    );
    for bad in [
        "not json",
        "[1]",
        r#"{"host": "h", "port": 1}"#,
        r#"{"id": "1", "port": 1}"#,
        r#"{"id": "1", "host": "h"}"#,
        r#"{"id": "1", "host": "h", "port": 70000}"#,
    ] {
        let e = ReturnInfo::parse(bad).unwrap_err();
        assert!(e.contains("return info"), "{bad}: {e}");
    }
}

#[test]
fn drpc_spout_task_server_assignment_follows_storm() {
    let servers: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    // Fewer tasks than servers: every task polls every server.
    assert_eq!(servers_for_task(&servers, 0, 2), servers);
    assert_eq!(servers_for_task(&servers, 1, 2), servers);
    // Otherwise task i polls server i mod n.
    assert_eq!(servers_for_task(&servers, 0, 3), vec!["a"]);
    assert_eq!(servers_for_task(&servers, 4, 5), vec!["b"]);
    assert!(servers_for_task(&[], 0, 1).is_empty());
}

#[test]
fn drpc_spout_message_ids_round_trip() {
    let id = message_id("42", 3);
    assert_eq!(parse_message_id(&id), Some(("42".to_owned(), 3)));
    assert_eq!(parse_message_id(&Value::from(5i64)), None);
}

#[test]
fn drpc_spout_without_servers_fails_to_open_with_storms_message() {
    let mut spout = DRPCSpout::new("f");
    let e = spout
        .connect_clients(&ConfMap::new(), 0, 1)
        .unwrap_err()
        .to_string();
    assert_eq!(e, NO_SERVERS_MSG);
}

#[test]
fn drpc_spout_with_an_unreachable_server_emits_nothing_and_never_panics() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut spout = DRPCSpout::new("f");
    spout
        .connect_clients(
            &conf(serde_json::json!({
                "drpc.servers": ["127.0.0.1"],
                "drpc.invocations.port": port,
            })),
            0,
            1,
        )
        .unwrap();
    assert_eq!(spout.servers(), vec![format!("127.0.0.1:{port}")]);
    let mut out = FakeSpoutOut::default();
    for _ in 0..3 {
        spout
            .next_tuple(&mut SpoutOutputCollector::new(&mut out))
            .unwrap();
    }
    assert!(out.emitted.is_empty());
    // Failing a request whose server is gone reports an error instead of panicking.
    spout
        .fail(message_id("1", 0), &mut SpoutOutputCollector::new(&mut out))
        .unwrap();
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(out.errors[0].contains("could not fail request 1"));
}

/// Runs `execute` on a thread and returns its join handle.
fn execute_async(
    drpc: &LocalDRPC,
    func: &str,
    args: &str,
) -> std::thread::JoinHandle<Result<String, crate::thrift::DRPCExecutionException>> {
    let core = drpc.drpc().clone();
    let (func, args) = (func.to_owned(), args.to_owned());
    std::thread::spawn(move || core.execute(&func, &args))
}

/// Polls the spout until it emits one tuple.
fn next_request(spout: &mut DRPCSpout) -> (Values, MessageId) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut out = FakeSpoutOut::default();
        spout
            .next_tuple(&mut SpoutOutputCollector::new(&mut out))
            .unwrap();
        if let Some((values, id)) = out.emitted.pop() {
            return (values, id.expect("DRPC tuples are reliable"));
        }
        assert!(std::time::Instant::now() < deadline, "no request fetched");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn drpc_local_spout_and_return_results_answer_a_request() {
    let drpc = LocalDRPC::new();
    assert!(local_service(drpc.service_id()).is_some());
    let mut spout = DRPCSpout::local("exclamation", &drpc);
    spout.connect_clients(&ConfMap::new(), 0, 1).unwrap();
    assert_eq!(spout.servers(), vec![format!("{}:0", drpc.host())]);

    let waiting = execute_async(&drpc, "exclamation", "hello");
    let (values, msg_id) = next_request(&mut spout);
    assert_eq!(values[0], Value::from("hello"));
    let info = ReturnInfo::parse(&values[1].java_to_string()).unwrap();
    assert_eq!(info.host, drpc.host());
    assert_eq!(parse_message_id(&msg_id), Some((info.id.clone(), 0)));
    let mut rr = ReturnResults::new();
    rr.deliver("hello!", &values[1].java_to_string()).unwrap();
    assert_eq!(waiting.join().unwrap().unwrap(), "hello!");

    // A failed tuple tree fails the request with FAILED_REQUEST.
    let waiting = execute_async(&drpc, "exclamation", "bad");
    let (_, msg_id) = next_request(&mut spout);
    let mut out = FakeSpoutOut::default();
    spout
        .fail(msg_id, &mut SpoutOutputCollector::new(&mut out))
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let e = waiting.join().unwrap().unwrap_err();
    assert_eq!(e.type_, Some(DRPCExceptionType::FAILED_REQUEST));
    assert_eq!(describe_exception(&e), "Request failed (FAILED_REQUEST)");

    // ReturnResults refuses bad return info and unknown local servers.
    assert!(rr.deliver("x", "{}").is_err());
    let e = rr
        .deliver("x", r#"{"id": "1", "host": "local:nobody"}"#)
        .unwrap_err();
    assert!(e.contains("no LocalDRPC \"nobody\""), "{e}");

    let id = drpc.service_id().to_owned();
    drop(drpc);
    assert!(local_service(&id).is_none(), "dropping unregisters");
}

#[test]
fn drpc_linear_builder_wires_storms_components_and_checks_the_last_bolt() {
    let drpc = LocalDRPC::new();
    let mut b = LinearDRPCTopologyBuilder::new("exclamation");
    b.add_basic_bolt(ExclaimBolt::default(), 2);
    let topo = b.create_local_topology(&drpc).unwrap();
    assert_eq!(topo.spouts.keys().collect::<Vec<_>>(), vec!["spout"]);
    assert_eq!(
        topo.bolts.keys().collect::<Vec<_>>(),
        vec!["bolt0", "bolt1", "bolt2", "prepare-request"]
    );
    let inputs = |id: &str| {
        topo.bolts[id]
            .common
            .inputs
            .keys()
            .map(|g| format!("{}:{}", g.component_id, g.stream_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(inputs("prepare-request"), vec!["spout:default"]);
    assert_eq!(inputs("bolt0"), vec!["prepare-request:default"]);
    assert_eq!(
        inputs("bolt1"),
        vec!["bolt0:default", "prepare-request:ret"]
    );
    assert_eq!(inputs("bolt2"), vec!["bolt1:default"]);
    assert!(topo.bolts["bolt0"]
        .common
        .streams
        .contains_key(COORDINATED_STREAM_ID));

    // A last bolt with two streams, or not two fields, is refused with Storm's texts.
    let mut b = LinearDRPCTopologyBuilder::new("f");
    b.add_bolt(ReturnResults::new(), 1);
    match b.create_remote_topology() {
        Err(TopologyError::Declare { component, message }) => {
            assert_eq!(component, "bolt0");
            assert_eq!(
                message,
                "Must declare exactly one stream from last bolt in LinearDRPCTopology"
            );
        }
        other => panic!("unexpected {:?}", other.map(|_| ())),
    }
    let mut b = LinearDRPCTopologyBuilder::new("f");
    b.add_basic_bolt(PrepareRequest::default(), 1);
    assert!(b.create_remote_topology().is_err());
    assert!(LinearDRPCTopologyBuilder::new("f")
        .create_remote_topology()
        .is_err());
}
