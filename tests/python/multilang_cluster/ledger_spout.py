"""A durable, reliable pystorm sentence spout: ids "0".."N-1" (N = `test.sentences`); every acked id is
appended to `$MULTILANG_CLUSTER_DATA/acked.txt`, and a restarted spout (a relaunched worker) emits only
the ids never acked. A failed id is replayed."""
import os

from pystorm import Spout

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class LedgerSpout(Spout):
    outputs = ["sentence"]

    def initialize(self, storm_conf, context):
        directory = os.environ.get("MULTILANG_CLUSTER_DATA") or storm_conf["test.data.dir"]
        self.acked_path = os.path.join(directory, "acked.txt")
        acked = set()
        if os.path.exists(self.acked_path):
            with open(self.acked_path) as f:
                acked = {line.strip() for line in f if line.strip()}
        total = int(storm_conf.get("test.sentences", 50))
        self.todo = [str(i) for i in range(total) if str(i) not in acked]
        self.log("ledger spout: %d of %d ids to emit" % (len(self.todo), total))

    def next_tuple(self):
        if self.todo:
            tup_id = self.todo.pop(0)
            self.emit([SENTENCES[int(tup_id) % len(SENTENCES)]], tup_id=tup_id)

    def ack(self, tup_id):
        with open(self.acked_path, "a") as f:
            f.write("%s\n" % tup_id)

    def fail(self, tup_id):
        self.todo.append(tup_id)


if __name__ == "__main__":
    LedgerSpout().run()
