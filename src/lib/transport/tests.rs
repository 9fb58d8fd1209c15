//! Tests of the transport: the wire codec (round trips, hostile input) and real `TcpTransport`s on
//! 127.0.0.1 exchanging tuples through `Router`s (both directions, backpressure, reconnect, restart).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::wire::{self, FrameError, WireMessage};
use super::*;
use crate::executor::transport::{
    executor_queues, Control, Delivery, ExecutorInbox, SystemMessage,
};
use crate::tuple::codec::encode_values;
use crate::tuple::Value;

// ---- codec -------------------------------------------------------------------------------------

use crate::tuple::codec::tests::arb_value;

fn arb_message() -> impl Strategy<Value = WireMessage> {
    (
        any::<i32>(),
        any::<i32>(),
        ".{0,20}",
        proptest::collection::vec((any::<i64>(), any::<i64>()), 0..4),
        proptest::collection::vec(arb_value(), 0..5),
    )
        .prop_map(|(dest, source_task, stream, anchors, values)| WireMessage {
            dest,
            source_task,
            stream,
            anchors,
            values,
        })
}

/// Values compared by encoding: bit-exact and NaN-safe.
fn values_bytes(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_values(values, &mut out);
    out
}

fn sample_messages() -> Vec<WireMessage> {
    vec![
        WireMessage {
            dest: 7,
            source_task: -1,
            stream: "__tick".into(),
            anchors: vec![],
            values: vec![Value::Int(30)],
        },
        WireMessage {
            dest: 3,
            source_task: 12,
            stream: "default".into(),
            anchors: vec![(1, 2), (-5, i64::MAX)],
            values: vec![Value::from("word"), Value::Long(-9)],
        },
    ]
}

proptest! {
    #[test]
    fn frames_round_trip(messages in proptest::collection::vec(arb_message(), 0..8)) {
        let frame = wire::encode_frame(&messages).unwrap();
        let back = wire::decode_frame(&frame, usize::MAX).unwrap();
        prop_assert_eq!(back.len(), messages.len());
        for (a, b) in back.iter().zip(&messages) {
            prop_assert_eq!(a.dest, b.dest);
            prop_assert_eq!(a.source_task, b.source_task);
            prop_assert_eq!(&a.stream, &b.stream);
            prop_assert_eq!(&a.anchors, &b.anchors);
            prop_assert_eq!(values_bytes(&a.values), values_bytes(&b.values));
        }
        prop_assert_eq!(wire::encode_frame(&back).unwrap(), frame);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = wire::decode_frame(&bytes, 1 << 20);
        let _ = wire::decode_payload(&bytes);
        let _ = wire::peek_frame_len(&bytes, 64);
    }

    #[test]
    fn corrupted_frames_never_panic(
        messages in proptest::collection::vec(arb_message(), 1..4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut frame = wire::encode_frame(&messages).unwrap();
        for (at, byte) in flips {
            let i = at.index(frame.len());
            frame[i] ^= byte;
        }
        let _ = wire::decode_frame(&frame, 1 << 20);
        let _ = wire::decode_payload(&frame[4..]);
        let n = cut.index(frame.len());
        let _ = wire::decode_frame(&frame[..n], 1 << 20);
    }
}

#[test]
fn truncated_frame_is_an_error() {
    let frame = wire::encode_frame(&sample_messages()).unwrap();
    for n in 0..frame.len() {
        let err = wire::decode_frame(&frame[..n], 1 << 20).unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }), "{n}: {err}");
    }
    // A payload whose length prefix agrees but whose last message is cut short.
    let mut short = frame[4..frame.len() - 1].to_vec();
    let len = (short.len() as u32).to_be_bytes();
    short.splice(0..0, len);
    assert!(wire::decode_frame(&short, 1 << 20).is_err());
}

#[test]
fn oversize_length_is_refused_before_reading_the_payload() {
    let header = (10_000u32).to_be_bytes();
    let err = wire::peek_frame_len(&header, 9_999).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLarge {
            len: 10_000,
            max: 9_999
        }
    );
    assert!(err
        .to_string()
        .contains("storm.messaging.netty.buffer_size"));
    assert_eq!(wire::peek_frame_len(&header, 10_000).unwrap(), Some(10_000));
    assert_eq!(wire::peek_frame_len(&header[..3], 10).unwrap(), None);
}

#[test]
fn huge_counts_are_refused_without_allocating() {
    let mut payload = u32::MAX.to_be_bytes().to_vec();
    payload.extend_from_slice(&[0; 20]);
    assert!(matches!(
        wire::decode_payload(&payload),
        Err(FrameError::CountTooLarge { .. })
    ));
}

#[test]
fn bad_utf8_stream_and_trailing_bytes_are_errors() {
    let mut frame = wire::encode_frame(&sample_messages()[1..]).unwrap();
    // payload: count(4) dest(4) source(4) stream_len(2) "default"
    frame[4 + 4 + 8 + 2] = 0xff;
    assert!(matches!(
        wire::decode_frame(&frame, 1 << 20),
        Err(FrameError::BadStream { index: 0, .. })
    ));
    let mut frame = wire::encode_frame(&sample_messages()).unwrap();
    frame.push(0);
    let len = (frame.len() as u32 - 4).to_be_bytes();
    frame[..4].copy_from_slice(&len);
    assert!(matches!(
        wire::decode_frame(&frame, 1 << 20),
        Err(FrameError::TrailingBytes { .. })
    ));
}

#[test]
fn options_come_from_storm_keys() {
    let mut conf = crate::config::Config::defaults();
    let d = TransportOptions::from_conf(&conf).unwrap();
    assert_eq!(d.max_frame_bytes, 5_242_880);
    assert_eq!(d.min_backoff, Duration::from_millis(100));
    assert_eq!(d.max_backoff, Duration::from_millis(1000));
    conf.set("storm.messaging.netty.buffer_size", 65536);
    conf.set("topology.transfer.buffer.size", 16);
    conf.set("storm.messaging.netty.min_wait_ms", 5);
    conf.set("storm.messaging.netty.max_wait_ms", 50);
    let o = TransportOptions::from_conf(&conf).unwrap();
    assert_eq!(o.max_frame_bytes, 65536);
    assert_eq!(o.send_queue_tuples, 16);
    assert_eq!(o.min_backoff, Duration::from_millis(5));
    assert_eq!(o.max_backoff, Duration::from_millis(50));
    conf.set("topology.transfer.buffer.size", "many");
    assert!(TransportOptions::from_conf(&conf).is_err());
}

// ---- end to end --------------------------------------------------------------------------------

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every (task, stream) is component `c<task>` with one field `v` (two for `pair`).
struct TestResolver;

impl SourceResolver for TestResolver {
    fn source(&self, task: i32, stream: &str) -> Option<&'static TupleSource> {
        if stream == "unknown" {
            return None;
        }
        let fields = if stream == "pair" {
            Fields::new(["a", "b"]).unwrap()
        } else {
            Fields::new(["v"]).unwrap()
        };
        Some(TupleSource::new(format!("c{task}"), task, stream, fields).intern())
    }
}

fn tuple(task: i32, stream: &str, values: Vec<Value>, anchors: Vec<(i64, i64)>) -> Tuple {
    TestResolver
        .source(task, stream)
        .map(|s| Tuple::new(s, values, anchors))
        .unwrap()
}

fn localhost(t: &TcpTransport) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], t.local_addr().port()))
}

fn fast_opts() -> TransportOptions {
    TransportOptions {
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(100),
        ..TransportOptions::default()
    }
}

struct Node {
    transport: Arc<TcpTransport>,
    router: Arc<Router>,
    inboxes: HashMap<i32, ExecutorInbox>,
    /// Tuples received in batches and not yet looked at, per task and lane (system = true).
    received: RefCell<HashMap<(i32, bool), VecDeque<Tuple>>>,
}

impl Node {
    fn start(
        port: u16,
        tasks: &[i32],
        remote: HashMap<i32, SocketAddr>,
        capacity: usize,
        opts: TransportOptions,
    ) -> Node {
        let transport =
            TcpTransport::start(port, "topo-1", Arc::new(TestResolver), remote, opts).unwrap();
        let mut local = HashMap::new();
        let mut inboxes = HashMap::new();
        for &t in tasks {
            let (q, inbox) = executor_queues(capacity);
            local.insert(t, q);
            inboxes.insert(t, inbox);
        }
        let remote: Arc<dyn RemoteTransport> = transport.clone();
        let router = Arc::new(Router::new(local, Some(remote)));
        transport.attach(Arc::clone(&router));
        Node {
            transport,
            router,
            inboxes,
            received: RefCell::default(),
        }
    }

    /// Sends, retrying while the transport pushes back.
    fn send(&self, dest: i32, t: Tuple, system: bool) {
        let mut t = t;
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.router.try_deliver(dest, t, system) {
                Delivery::Delivered => return,
                Delivery::Full(mut back) => t = back.pop().expect("the tuple comes back"),
                Delivery::Dropped => panic!("tuple for {dest} dropped"),
            }
            assert!(Instant::now() < deadline, "could not send to {dest}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The next data tuple for `task`, waiting up to `timeout`.
    fn recv_data_timeout(&self, task: i32, timeout: Duration) -> Option<Tuple> {
        let key = (task, false);
        if let Some(t) = self
            .received
            .borrow_mut()
            .get_mut(&key)
            .and_then(|q| q.pop_front())
        {
            return Some(t);
        }
        let batch = self.inboxes[&task].recv_data_timeout(timeout)?;
        let mut received = self.received.borrow_mut();
        let q = received.entry(key).or_default();
        q.extend(batch.tuples);
        q.pop_front()
    }

    fn recv_data(&self, task: i32) -> Tuple {
        self.recv_data_timeout(task, DEADLINE)
            .unwrap_or_else(|| panic!("no data tuple for task {task}"))
    }

    fn recv_control(&self, task: i32) -> Tuple {
        let key = (task, true);
        if let Some(t) = self
            .received
            .borrow_mut()
            .get_mut(&key)
            .and_then(|q| q.pop_front())
        {
            return t;
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inboxes[&task].control.recv_timeout(left) {
                Ok(Control::Batch(batch)) => {
                    let mut received = self.received.borrow_mut();
                    let q = received.entry(key).or_default();
                    q.extend(batch.tuples);
                    if let Some(t) = q.pop_front() {
                        return t;
                    }
                }
                Ok(Control::Messages { messages, .. }) => {
                    let mut received = self.received.borrow_mut();
                    let q = received.entry(key).or_default();
                    q.extend(messages.iter().map(SystemMessage::to_tuple));
                    if let Some(t) = q.pop_front() {
                        return t;
                    }
                }
                Ok(Control::Wake | Control::Room) => continue,
                Err(_) => panic!("no control tuple for task {task}"),
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.transport.shutdown();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn two_workers_exchange_tuples_both_ways() {
    let a = Node::start(0, &[1, 2], HashMap::new(), 64, fast_opts());
    let b = Node::start(
        0,
        &[3, 4],
        HashMap::from([(1, localhost(&a.transport)), (2, localhost(&a.transport))]),
        64,
        fast_opts(),
    );
    a.transport.set_remote_tasks(HashMap::from([
        (3, localhost(&b.transport)),
        (4, localhost(&b.transport)),
    ]));
    assert!(a.transport.owns(3) && !a.transport.owns(1) && b.transport.owns(2));
    wait_until("both connected", || {
        a.transport.all_connected() && b.transport.all_connected()
    });

    // a → b: data, with anchors and two fields.
    for i in 0..100 {
        a.send(
            3,
            tuple(
                1,
                "pair",
                vec![Value::Int(i), Value::from(format!("v{i}"))],
                vec![(i as i64, -(i as i64))],
            ),
            false,
        );
    }
    for i in 0..100 {
        let t = b.recv_data(3);
        assert_eq!(t.values(), &[Value::Int(i), Value::from(format!("v{i}"))]);
        assert_eq!(t.source_task(), 1);
        assert_eq!(t.source_component(), "c1");
        assert_eq!(t.source_stream(), "pair");
        assert_eq!(t.fields().len(), 2);
        assert_eq!(t.message_id(), &[(i as i64, -(i as i64))]);
    }
    // a → b: a system tuple lands on the control queue.
    a.send(
        4,
        tuple(2, "__ack_ack", vec![Value::Long(42)], vec![]),
        true,
    );
    let t = b.recv_control(4);
    assert_eq!(t.source_stream(), "__ack_ack");
    assert_eq!(t.values(), &[Value::Long(42)]);

    // b → a.
    for i in 0..50 {
        b.send(
            if i % 2 == 0 { 1 } else { 2 },
            tuple(4, "default", vec![Value::Int(i)], vec![]),
            false,
        );
    }
    for i in 0..50 {
        let t = a.recv_data(if i % 2 == 0 { 1 } else { 2 });
        assert_eq!(t.values(), &[Value::Int(i)]);
        assert_eq!(t.source_task(), 4);
    }

    // Unknown source streams are dropped; later tuples still arrive.
    a.send(3, tuple(1, "default", vec![Value::Int(-1)], vec![]), false);
    let unknown = Tuple::new(
        Arc::new(TupleSource::new("c1", 1, "unknown", Fields::empty())),
        vec![Value::Int(0)],
        vec![],
    );
    a.send(3, unknown, false);
    a.send(3, tuple(1, "default", vec![Value::Int(-2)], vec![]), false);
    assert_eq!(b.recv_data(3).values(), &[Value::Int(-1)]);
    assert_eq!(b.recv_data(3).values(), &[Value::Int(-2)]);

    // Dropping the route closes the connection and the tasks are no longer owned.
    a.transport.set_remote_tasks(HashMap::new());
    assert!(!a.transport.owns(3));
    assert!(a.transport.all_connected());
}

#[test]
fn a_full_receiver_pushes_back_and_memory_stays_bounded() {
    let opts = TransportOptions {
        send_queue_tuples: 32,
        ..fast_opts()
    };
    let b = Node::start(0, &[3], HashMap::new(), 4, fast_opts());
    let b_addr = localhost(&b.transport);
    let a = Node::start(0, &[1], HashMap::from([(3, b_addr)]), 4, opts);
    wait_until("connected", || a.transport.all_connected());

    let payload = Value::Bytes(vec![7; 16 * 1024]);
    let mut accepted = 0usize;
    let deadline = Instant::now() + DEADLINE;
    loop {
        match a.router.try_deliver(
            3,
            tuple(
                1,
                "default",
                vec![Value::Long(accepted as i64), payload.clone()],
                vec![],
            ),
            false,
        ) {
            Delivery::Delivered => accepted += 1,
            Delivery::Full(_) => break,
            Delivery::Dropped => panic!("dropped"),
        }
        assert!(
            Instant::now() < deadline,
            "try_send never pushed back ({accepted} accepted)"
        );
    }
    assert!(a.transport.queued(b_addr) <= 32);
    // Executor queue (4) + delivery pending + channel + socket buffers + sender queue: bounded.
    assert!(accepted < 20_000, "{accepted} tuples accepted");

    // System tuples still go through while data is stuck.
    a.send(3, tuple(1, "__ack_ack", vec![Value::Int(1)], vec![]), true);
    assert_eq!(b.recv_control(3).values(), &[Value::Int(1)]);

    // Draining the receiver lets everything through, in order, and sending resumes.
    for i in 0..accepted {
        let t = b
            .recv_data_timeout(3, DEADLINE)
            .expect("every accepted tuple arrives");
        assert_eq!(t.values()[0], Value::Long(i as i64), "out of order");
    }
    a.send(3, tuple(1, "default", vec![Value::Int(5)], vec![]), false);
    assert_eq!(b.recv_data(3).values(), &[Value::Int(5)]);
}

#[test]
fn sender_started_first_delivers_once_the_receiver_listens() {
    let port = free_port();
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    let a = Node::start(0, &[1], HashMap::from([(3, target)]), 16, fast_opts());
    for i in 0..10 {
        a.send(3, tuple(1, "default", vec![Value::Int(i)], vec![]), false);
    }
    assert!(!a.transport.all_connected());
    assert_eq!(a.transport.queued(target), 10);

    let b = Node::start(port, &[3], HashMap::new(), 16, fast_opts());
    for i in 0..10 {
        assert_eq!(b.recv_data(3).values(), &[Value::Int(i)]);
    }
    wait_until("connected", || a.transport.all_connected());
}

#[test]
fn sending_resumes_after_the_receiver_restarts() {
    let b = Node::start(0, &[3], HashMap::new(), 16, fast_opts());
    let port = b.transport.local_addr().port();
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    let a = Node::start(0, &[1], HashMap::from([(3, target)]), 16, fast_opts());
    a.send(3, tuple(1, "default", vec![Value::Int(1)], vec![]), false);
    assert_eq!(b.recv_data(3).values(), &[Value::Int(1)]);

    b.transport.shutdown();
    b.transport.shutdown(); // idempotent
    drop(b);
    wait_until("the sender notices", || !a.transport.all_connected());

    let b = Node::start(port, &[3], HashMap::new(), 16, fast_opts());
    wait_until("reconnected", || a.transport.all_connected());
    // Tuples written just before the drop may be lost (acking replays them); new ones arrive.
    let deadline = Instant::now() + DEADLINE;
    let mut n = 100;
    loop {
        a.send(3, tuple(1, "default", vec![Value::Int(n)], vec![]), false);
        if let Some(t) = b.recv_data_timeout(3, Duration::from_millis(200)) {
            assert!(matches!(t.values(), [Value::Int(m)] if (100..=n).contains(m)));
            break;
        }
        assert!(Instant::now() < deadline, "no tuple after restart");
        n += 1;
    }
}

#[test]
fn a_corrupt_or_oversize_frame_closes_only_that_connection() {
    let opts = TransportOptions {
        max_frame_bytes: 1024,
        ..fast_opts()
    };
    let b = Node::start(0, &[3], HashMap::new(), 16, opts);
    let addr = localhost(&b.transport);
    let closed = |bytes: &[u8]| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(bytes).unwrap();
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("connection not closed: {other:?}"),
        }
    };
    closed(&100_000u32.to_be_bytes());
    closed(&[0, 0, 0, 6, 0, 0, 0, 1, 0xde, 0xad]);

    // A good connection still works.
    let mut s = TcpStream::connect(addr).unwrap();
    let frame = wire::encode_frame(&[WireMessage {
        dest: 3,
        source_task: 9,
        stream: "default".into(),
        anchors: vec![],
        values: vec![Value::from("ok")],
    }])
    .unwrap();
    s.write_all(&frame).unwrap();
    let t = b.recv_data(3);
    assert_eq!(t.values(), &[Value::from("ok")]);
    assert_eq!(t.source_component(), "c9");
}

#[test]
fn nothing_is_read_before_attach() {
    let transport = TcpTransport::start(
        0,
        "topo-1",
        Arc::new(TestResolver),
        HashMap::new(),
        fast_opts(),
    )
    .unwrap();
    let (q, inbox) = executor_queues(4);
    let router = Arc::new(Router::new(HashMap::from([(3, q)]), None));
    let mut s = TcpStream::connect(localhost(&transport)).unwrap();
    let frame = wire::encode_frame(&[WireMessage {
        dest: 3,
        source_task: 9,
        stream: "default".into(),
        anchors: vec![],
        values: vec![Value::Int(1)],
    }])
    .unwrap();
    s.write_all(&frame).unwrap();
    assert!(inbox
        .recv_data_timeout(Duration::from_millis(100))
        .is_none());
    transport.attach(router);
    let batch = inbox.recv_data_timeout(DEADLINE).unwrap();
    assert_eq!(batch.tuples.len(), 1);
    assert_eq!(batch.tuples[0].values(), &[Value::Int(1)]);
    transport.shutdown();
}

#[test]
fn bind_failure_names_the_port() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = TcpTransport::start(
        port,
        "t",
        Arc::new(TestResolver),
        HashMap::new(),
        fast_opts(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&port.to_string()), "{text}");
    assert!(text.contains("supervisor.slots.ports"), "{text}");
}

#[test]
fn context_resolver_finds_fields_and_caches() {
    use crate::api::{TopologyBuilder, WorkerTopologyContext};
    use crate::local::components::{ExclamationBolt, TestWordSpout};
    use crate::topology::system::{normalize_topology, system_topology};

    let mut builder = TopologyBuilder::new();
    builder.set_spout("words", TestWordSpout::new(10), 2);
    builder
        .set_bolt("exclaim", ExclamationBolt, 1)
        .shuffle_grouping("words");
    let conf = crate::config::Config::defaults().to_json();
    let topology = normalize_topology(&builder.create_topology().unwrap(), &conf).unwrap();
    let system = system_topology(&topology, &conf).unwrap();
    let context = Arc::new(WorkerTopologyContext::new("t-1", &system, vec![], None).unwrap());
    let spout_task = context.component_tasks("words")[0];
    let resolver = ContextResolver::new(Arc::clone(&context));

    let s = resolver.source(spout_task, "default").unwrap();
    assert_eq!(s.component, "words");
    assert_eq!(s.task, spout_task);
    assert_eq!(s.stream, "default");
    assert!(s.fields.contains("word"));
    assert!(std::ptr::eq(
        s,
        resolver.source(spout_task, "default").unwrap()
    ));

    // A system stream resolves even when the component does not declare it.
    let sys = resolver
        .source(spout_task, "__storm_rs_undeclared")
        .unwrap();
    assert_eq!(sys.fields.len(), 0);
    assert!(resolver.source(spout_task, "no-such-stream").is_none());
    assert!(resolver.source(10_000, "default").is_none());
}

#[test]
fn a_lane_says_room_exactly_when_it_takes_a_batch_and_wakes_at_half() {
    let lane = crate::executor::transport::Population::new(100);
    let (tx, rx) = crossbeam_channel::unbounded();
    assert!(lane.try_add(64));
    assert!(!lane.try_add(64)); // does not fit
    assert!(lane.try_add(36)); // fits exactly
    assert!(!lane.try_add(1));
    assert!(!lane.notify_room(&tx, 64));
    lane.remove(36); // 64 left: not down to half yet
    assert!(rx.try_recv().is_err());
    assert!(lane.notify_room(&tx, 36)); // a batch of 36 fits now, and a retry succeeds
    assert!(lane.try_add(36));
    assert!(!lane.notify_room(&tx, 1));
    lane.remove(64); // 36 left: half or less
    assert!(matches!(rx.try_recv(), Ok(Control::Room)));
    assert!(rx.try_recv().is_err(), "one Room per registration");
    lane.remove(36);
    assert_eq!(lane.len(), 0);
    assert!(
        lane.try_add(500),
        "a batch larger than the capacity fits an empty lane"
    );
}

#[test]
fn consecutive_messages_share_one_run_header() {
    let m = |dest: i32, stream: &str, v: i64| WireMessage {
        dest,
        source_task: 7,
        stream: stream.into(),
        anchors: vec![(v, v + 1)],
        values: vec![Value::Long(v)],
    };
    let one = wire::encode_frame(&[m(3, "default", 0)]).unwrap();
    let messages = vec![
        m(3, "default", 1),
        m(3, "default", 2),
        m(3, "other", 3),
        m(4, "other", 4),
        m(4, "other", 5),
        m(3, "default", 6),
    ];
    let frame = wire::encode_frame(&messages).unwrap();
    assert_eq!(wire::decode_frame(&frame, 1 << 20).unwrap(), messages);
    // Four runs: the header of a run (20 bytes with "default") is not repeated per message.
    let per_message = one.len() - 8 - (4 + 4 + 2 + 7 + 4);
    assert!(frame.len() < 8 + 4 * (4 + 4 + 2 + 7 + 4) + 6 * per_message + 1);
}

#[test]
fn empty_and_oversized_runs_are_refused() {
    let mut frame = wire::encode_frame(&sample_messages()[1..]).unwrap();
    // payload: runs(4) dest(4) source(4) stream_len(2) "default"(7) count(4)
    let count_at = 4 + 4 + 8 + 2 + 7;
    frame[count_at..count_at + 4].copy_from_slice(&0u32.to_be_bytes());
    assert!(matches!(
        wire::decode_frame(&frame, 1 << 20),
        Err(FrameError::EmptyRun { .. })
    ));
    frame[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        wire::decode_frame(&frame, 1 << 20),
        Err(FrameError::CountTooLarge { .. })
    ));
}

// ---- authenticated links -----------------------------------------------------------------------

fn auth_opts(payload: &str) -> TransportOptions {
    TransportOptions {
        auth: Some(auth::LinkSecret::derive(payload, "topo-1")),
        ..fast_opts()
    }
}

fn ok_frame(text: &str) -> Vec<u8> {
    wire::encode_frame(&[WireMessage {
        dest: 3,
        source_task: 9,
        stream: "default".into(),
        anchors: vec![],
        values: vec![Value::from(text)],
    }])
    .unwrap()
}

#[test]
fn authenticated_workers_exchange_tuples_and_raw_clients_are_refused() {
    let b = Node::start(0, &[3], HashMap::new(), 64, auth_opts("alice:s"));
    let b_addr = localhost(&b.transport);
    let a = Node::start(
        0,
        &[1],
        HashMap::from([(3, b_addr)]),
        64,
        auth_opts("alice:s"),
    );
    wait_until("connected", || a.transport.all_connected());

    // A raw client sending a well-formed frame: refused, nothing delivered.
    let mut raw = TcpStream::connect(b_addr).unwrap();
    raw.set_read_timeout(Some(DEADLINE)).unwrap();
    raw.write_all(&ok_frame("injected")).unwrap();
    let mut buf = [0u8; 16];
    match raw.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("raw connection not refused: {other:?}"),
    }
    // Garbage that starts like a handshake, then a wrong proof: refused too.
    let mut fake = TcpStream::connect(b_addr).unwrap();
    fake.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut hello = auth::MAGIC.to_vec();
    hello.push(auth::VERSION);
    hello.extend([7u8; 32]);
    fake.write_all(&hello).unwrap();
    let mut challenge = [0u8; auth::CHALLENGE_LEN];
    fake.read_exact(&mut challenge).unwrap();
    fake.write_all(&[0u8; auth::PROOF_LEN]).unwrap();
    fake.write_all(&ok_frame("forged")).unwrap();
    match fake.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("forged connection not refused: {other:?}"),
    }

    // The authenticated worker's tuples flow; the injected ones never arrived.
    for i in 0..50 {
        a.send(3, tuple(1, "default", vec![Value::Int(i)], vec![]), false);
    }
    for i in 0..50 {
        let t = b.recv_data(3);
        assert_eq!(
            t.values(),
            &[Value::Int(i)],
            "only the real worker's tuples"
        );
    }
    assert!(b.recv_data_timeout(3, Duration::from_millis(200)).is_none());
}

#[test]
fn a_worker_with_another_secret_cannot_send() {
    let b = Node::start(0, &[3], HashMap::new(), 64, auth_opts("alice:s"));
    let b_addr = localhost(&b.transport);
    let a = Node::start(
        0,
        &[1],
        HashMap::from([(3, b_addr)]),
        64,
        auth_opts("mallory:x"),
    );
    // Its tuples queue (the transport keeps retrying) but none is delivered.
    a.router
        .try_deliver(3, tuple(1, "default", vec![Value::Int(1)], vec![]), false);
    assert!(b.recv_data_timeout(3, Duration::from_secs(1)).is_none());
    // An unauthenticated worker (link authentication off) cannot send either.
    let c = Node::start(0, &[1], HashMap::from([(3, b_addr)]), 64, fast_opts());
    c.router
        .try_deliver(3, tuple(1, "default", vec![Value::Int(2)], vec![]), false);
    assert!(b.recv_data_timeout(3, Duration::from_secs(1)).is_none());
}

// ---- TLS links ---------------------------------------------------------------------------------

/// Test certificates made with the `openssl` command (as the integration tests' `Certs`): a CA and
/// a worker certificate it signed (for servers and clients), and a second CA with a stranger's.
struct TestCerts {
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
    /// Certificate, then its key: a `storm.messaging.netty.tls.*keystore.path` file.
    worker: std::path::PathBuf,
    /// A worker certificate signed by another CA.
    stranger: std::path::PathBuf,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl (needed to make test certificates)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCerts {
    fn make() -> TestCerts {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = |key: &str, subj: &str, extra: &[&str], out: &str| {
            let mut args = vec![
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key,
                "-subj",
                subj,
                "-out",
                out,
            ];
            args.extend_from_slice(extra);
            openssl(d, &args);
        };
        let ca_ext = [
            "-x509",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ];
        ec("ca.key", "/CN=links-ca", &ca_ext, "ca.pem");
        ec("other.key", "/CN=other-ca", &ca_ext, "other.pem");
        std::fs::write(
            d.join("leaf.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:worker\n",
        )
        .unwrap();
        for (name, ca) in [("worker", "ca"), ("stranger", "other")] {
            ec(
                &format!("{name}.key"),
                &format!("/CN={name}"),
                &[],
                &format!("{name}.csr"),
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    "leaf.ext",
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
            let mut ks = std::fs::read(d.join(format!("{name}.pem"))).unwrap();
            ks.extend(std::fs::read(d.join(format!("{name}.key"))).unwrap());
            std::fs::write(d.join(format!("{name}-keystore.pem")), ks).unwrap();
        }
        TestCerts {
            ca: d.join("ca.pem"),
            worker: d.join("worker-keystore.pem"),
            stranger: d.join("stranger-keystore.pem"),
            _dir: dir,
        }
    }

    /// The worker-link TLS keys: `keystore` for both sides, trusting `ca`.
    fn conf(&self, keystore: &std::path::Path, ca: &std::path::Path) -> Config {
        use crate::security::tls::*;
        let mut c = Config::defaults();
        c.set(NETTY_TLS_ENABLE, true);
        c.set(NETTY_TLS_KEYSTORE, keystore.display().to_string());
        c.set(NETTY_TLS_CLIENT_KEYSTORE, keystore.display().to_string());
        c.set(NETTY_TLS_TRUSTSTORE, ca.display().to_string());
        c.set(NETTY_TLS_CLIENT_TRUSTSTORE, ca.display().to_string());
        c
    }

    fn tls(&self) -> crate::security::tls::LinkTls {
        crate::security::tls::LinkTls::from_conf(&self.conf(&self.worker, &self.ca))
            .unwrap()
            .expect("TLS is on")
    }
}

fn tls_opts(tls: &crate::security::tls::LinkTls) -> TransportOptions {
    TransportOptions {
        tls: Some(tls.clone()),
        ..fast_opts()
    }
}

/// Reads until the server closes the connection (an alert before it is fine).
fn expect_closed(s: &mut TcpStream, what: &str) {
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => assert!(
                crate::security::tls::looks_like_tls(&buf[..n]),
                "{what}: answered {:02x?}",
                &buf[..n]
            ),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: not refused: {e}"),
        }
    }
}

#[test]
fn tls_workers_exchange_tuples_both_ways() {
    let certs = TestCerts::make();
    let tls = certs.tls();
    let a = Node::start(0, &[1, 2], HashMap::new(), 64, tls_opts(&tls));
    let b = Node::start(
        0,
        &[3],
        HashMap::from([(1, localhost(&a.transport)), (2, localhost(&a.transport))]),
        64,
        tls_opts(&tls),
    );
    a.transport
        .set_remote_tasks(HashMap::from([(3, localhost(&b.transport))]));
    wait_until("both connected", || {
        a.transport.all_connected() && b.transport.all_connected()
    });
    // Enough to span many TLS records and frames, with a large value.
    let big = "x".repeat(100_000);
    for i in 0..2000 {
        let text = if i % 500 == 0 {
            big.clone()
        } else {
            format!("a{i}")
        };
        a.send(
            3,
            tuple(1, "default", vec![Value::from(text)], vec![]),
            false,
        );
    }
    for i in 0..2000 {
        let want = if i % 500 == 0 {
            big.clone()
        } else {
            format!("a{i}")
        };
        assert_eq!(b.recv_data(3).values(), &[Value::from(want)]);
    }
    a.send(3, tuple(2, "__ack_ack", vec![Value::Long(7)], vec![]), true);
    assert_eq!(b.recv_control(3).values(), &[Value::Long(7)]);
    for i in 0..500 {
        b.send(
            if i % 2 == 0 { 1 } else { 2 },
            tuple(3, "default", vec![Value::Int(i)], vec![]),
            false,
        );
    }
    for i in 0..500 {
        let t = a.recv_data(if i % 2 == 0 { 1 } else { 2 });
        assert_eq!(t.values(), &[Value::Int(i)]);
    }
}

#[test]
fn a_tls_worker_refuses_plain_peers_and_untrusted_certificates_and_keeps_serving() {
    let certs = TestCerts::make();
    let tls = certs.tls();
    let b = Node::start(0, &[3], HashMap::new(), 64, tls_opts(&tls));
    let b_addr = localhost(&b.transport);

    // A raw client writing a well-formed plain frame, and one writing garbage: refused.
    let mut raw = TcpStream::connect(b_addr).unwrap();
    raw.write_all(&ok_frame("plain")).unwrap();
    expect_closed(&mut raw, "a plain frame");
    let mut garbage = TcpStream::connect(b_addr).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .unwrap();
    expect_closed(&mut garbage, "a broken ClientHello");

    // A plain worker cannot send, nor can a TLS worker whose certificate another CA signed.
    let plain = Node::start(0, &[1], HashMap::from([(3, b_addr)]), 64, fast_opts());
    plain.router.try_deliver(
        3,
        tuple(1, "default", vec![Value::from("plain")], vec![]),
        false,
    );
    let stranger_tls =
        crate::security::tls::LinkTls::from_conf(&certs.conf(&certs.stranger, &certs.ca))
            .unwrap()
            .unwrap();
    let stranger = Node::start(
        0,
        &[1],
        HashMap::from([(3, b_addr)]),
        64,
        tls_opts(&stranger_tls),
    );
    stranger.router.try_deliver(
        3,
        tuple(1, "default", vec![Value::from("stranger")], vec![]),
        false,
    );

    // A trusted worker's tuples flow, and only those arrive.
    let a = Node::start(0, &[1], HashMap::from([(3, b_addr)]), 64, tls_opts(&tls));
    for i in 0..50 {
        a.send(3, tuple(1, "default", vec![Value::Int(i)], vec![]), false);
    }
    for i in 0..50 {
        assert_eq!(b.recv_data(3).values(), &[Value::Int(i)], "only TLS tuples");
    }
    assert!(b.recv_data_timeout(3, Duration::from_millis(300)).is_none());

    // A TLS worker cannot reach a plain one either (and the plain one keeps serving).
    let p = Node::start(0, &[5], HashMap::new(), 64, fast_opts());
    let p_addr = localhost(&p.transport);
    a.transport
        .set_remote_tasks(HashMap::from([(3, b_addr), (5, p_addr)]));
    a.router.try_deliver(
        5,
        tuple(1, "default", vec![Value::from("tls")], vec![]),
        false,
    );
    let c = Node::start(0, &[1], HashMap::from([(5, p_addr)]), 64, fast_opts());
    c.send(
        5,
        tuple(1, "default", vec![Value::from("plain ok")], vec![]),
        false,
    );
    assert_eq!(p.recv_data(5).values(), &[Value::from("plain ok")]);
    assert!(p.recv_data_timeout(5, Duration::from_millis(300)).is_none());
}

#[test]
fn tls_and_link_authentication_together() {
    let certs = TestCerts::make();
    let tls = certs.tls();
    let opts = |payload: &str| TransportOptions {
        tls: Some(tls.clone()),
        ..auth_opts(payload)
    };
    let b = Node::start(0, &[3], HashMap::new(), 64, opts("alice:s"));
    let b_addr = localhost(&b.transport);
    let a = Node::start(0, &[1], HashMap::from([(3, b_addr)]), 64, opts("alice:s"));
    b.transport
        .set_remote_tasks(HashMap::from([(1, localhost(&a.transport))]));
    wait_until("connected", || {
        a.transport.all_connected() && b.transport.all_connected()
    });
    for i in 0..200 {
        a.send(3, tuple(1, "default", vec![Value::Int(i)], vec![]), false);
        b.send(1, tuple(3, "default", vec![Value::Int(-i)], vec![]), false);
    }
    for i in 0..200 {
        assert_eq!(b.recv_data(3).values(), &[Value::Int(i)]);
        assert_eq!(a.recv_data(1).values(), &[Value::Int(-i)]);
    }
    // A trusted TLS worker without the topology's secret still cannot send.
    let m = Node::start(0, &[1], HashMap::from([(3, b_addr)]), 64, opts("mallory:x"));
    m.router.try_deliver(
        3,
        tuple(1, "default", vec![Value::from("forged")], vec![]),
        false,
    );
    a.send(
        3,
        tuple(1, "default", vec![Value::Int(1000)], vec![]),
        false,
    );
    assert_eq!(b.recv_data(3).values(), &[Value::Int(1000)]);
    assert!(b.recv_data_timeout(3, Duration::from_millis(300)).is_none());
}

#[test]
fn link_tls_config_errors_name_the_key() {
    use crate::security::tls::*;
    let certs = TestCerts::make();
    let mut c = Config::defaults();
    assert!(LinkTls::from_conf(&c).unwrap().is_none(), "off by default");
    c.set(NETTY_TLS_ENABLE, true);
    let e = LinkTls::from_conf(&c).unwrap_err().to_string();
    assert!(e.contains(NETTY_TLS_KEYSTORE), "{e}");

    // A missing file, a file that is not PEM, a keystore without a key.
    let missing = certs.ca.with_file_name("nope.pem");
    let e = LinkTls::from_conf(&certs.conf(&missing, &certs.ca))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(NETTY_TLS_KEYSTORE) && e.contains("nope.pem"),
        "{e}"
    );
    let junk = certs.ca.with_file_name("junk.pem");
    std::fs::write(&junk, b"\x00\x01not pem").unwrap();
    let e = LinkTls::from_conf(&certs.conf(&certs.worker, &junk))
        .unwrap_err()
        .to_string();
    assert!(e.contains(NETTY_TLS_TRUSTSTORE) && e.contains("PEM"), "{e}");
    let mut only_ca = certs.conf(&certs.worker, &certs.ca);
    only_ca.set(NETTY_TLS_CLIENT_KEYSTORE, certs.ca.display().to_string());
    let e = LinkTls::from_conf(&only_ca).unwrap_err().to_string();
    assert!(
        e.contains(NETTY_TLS_CLIENT_KEYSTORE) && e.contains("PRIVATE KEY"),
        "{e}"
    );

    // Protocols and ciphers in Storm's spelling.
    let mut ok = certs.conf(&certs.worker, &certs.ca);
    ok.set(NETTY_TLS_PROTOCOLS, "TLSv1.2, TLSv1.3");
    ok.set(
        NETTY_TLS_CIPHERS,
        serde_json::json!([
            "TLS_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        ]),
    );
    assert!(LinkTls::from_conf(&ok).unwrap().is_some());
    ok.set(NETTY_TLS_PROTOCOLS, "TLSv1.1");
    let e = LinkTls::from_conf(&ok).unwrap_err().to_string();
    assert!(e.contains(NETTY_TLS_PROTOCOLS), "{e}");
    ok.set(NETTY_TLS_PROTOCOLS, "TLSv1.3");
    ok.set(NETTY_TLS_CIPHERS, "TLS_RSA_WITH_NULL_MD5");
    let e = LinkTls::from_conf(&ok).unwrap_err().to_string();
    assert!(
        e.contains(NETTY_TLS_CIPHERS) && e.contains("TLS_AES_128_GCM_SHA256"),
        "{e}"
    );
    // Only TLS 1.2 suites for a TLS 1.3-only link: no suite in common.
    ok.set(NETTY_TLS_CIPHERS, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    let e = LinkTls::from_conf(&ok).unwrap_err().to_string();
    assert!(e.contains(NETTY_TLS_CIPHERS), "{e}");
}
