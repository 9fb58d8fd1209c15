"""A minimal multilang adapter in the style of Storm's bundled storm.py, written from the protocol
spec: emits carry no "need_task_ids" field, so Storm answers each regular emit with the list of target
task ids, and emit() waits for it (queueing any tuple or command that arrives meanwhile)."""
import json
import os
import sys

_queued_commands = []
_queued_task_ids = []


def read_msg():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(2)  # Storm went away
        line = line.rstrip("\n")
        if line == "end":
            break
        lines.append(line)
    return json.loads("\n".join(lines))


def send_msg(msg):
    sys.stdout.write(json.dumps(msg) + "\nend\n")
    sys.stdout.flush()


def read_task_ids():
    if _queued_task_ids:
        return _queued_task_ids.pop(0)
    while True:
        msg = read_msg()
        if isinstance(msg, list):
            return msg
        _queued_commands.append(msg)


def read_command():
    if _queued_commands:
        return _queued_commands.pop(0)
    while True:
        msg = read_msg()
        if isinstance(msg, list):
            _queued_task_ids.append(msg)
            continue
        return msg


def sync():
    send_msg({"command": "sync"})


def log(msg, level=2):
    send_msg({"command": "log", "msg": msg, "level": level})


def report_error(msg):
    send_msg({"command": "error", "msg": msg})


def emit(values, stream=None, anchors=None, tup_id=None):
    msg = {"command": "emit", "tuple": values}
    if stream is not None:
        msg["stream"] = stream
    if anchors is not None:
        msg["anchors"] = anchors
    if tup_id is not None:
        msg["id"] = tup_id
    send_msg(msg)
    task_ids = read_task_ids()
    if not isinstance(task_ids, list) or not task_ids or not all(isinstance(t, int) for t in task_ids):
        report_error("bad task ids for an emit: %r" % (task_ids,))
    return task_ids


def init_component():
    setup = read_msg()
    context = setup["context"]
    for key in ("taskid", "componentid", "task->component", "streams", "stream->outputfields",
                "stream->target->grouping", "source->stream->grouping", "source->stream->fields"):
        if key not in context:
            report_error("handshake context lacks %r" % key)
    pid = os.getpid()
    open(os.path.join(setup["pidDir"], str(pid)), "w").close()
    send_msg({"pid": pid})
    if context.get("task->component", {}).get(str(context.get("taskid"))) != context.get("componentid"):
        report_error("task->component does not map taskid to componentid: %r" % (context,))
    return setup["conf"], context


class BasicBolt(object):
    """Every emit is anchored to the current tuple; the tuple is acked after process()."""

    def initialize(self, conf, context):
        pass

    def process(self, tup):
        pass

    def emit(self, values, stream=None):
        return emit(values, stream=stream, anchors=[self.current["id"]])

    def run(self):
        conf, context = init_component()
        self.initialize(conf, context)
        while True:
            tup = read_command()
            if tup["task"] == -1 and tup["stream"] == "__heartbeat":
                sync()
                continue
            self.current = tup
            try:
                self.process(tup)
            except Exception as e:  # noqa: BLE001 - report and fail, as storm.py's BasicBolt does
                report_error(repr(e))
                send_msg({"command": "fail", "id": tup["id"]})
                continue
            send_msg({"command": "ack", "id": tup["id"]})


class Spout(object):
    def initialize(self, conf, context):
        pass

    def next_tuple(self):
        pass

    def ack(self, tup_id):
        pass

    def fail(self, tup_id):
        pass

    def run(self):
        conf, context = init_component()
        self.initialize(conf, context)
        while True:
            msg = read_command()
            command = msg["command"]
            if command == "next":
                self.next_tuple()
            elif command == "ack":
                self.ack(msg["id"])
            elif command == "fail":
                self.fail(msg["id"])
            sync()
