"""Stops answering (no acks, no heartbeat replies) once ever: on the first tuple it sees after
`$MULTILANG_CLUSTER_DATA/acked.txt` (the ledger spout's) holds `test.hang.after.acks` ids, it creates the
marker file `$MULTILANG_CLUSTER_DATA/hung` and sleeps. Otherwise (before that, and after the worker was
relaunched) it passes sentences on, anchored, and acks them."""
import os
import time

from pystorm import Bolt


class HangOnceBolt(Bolt):
    outputs = ["sentence"]

    def initialize(self, conf, ctx):
        directory = os.environ.get("MULTILANG_CLUSTER_DATA") or conf["test.data.dir"]
        self.marker = os.path.join(directory, "hung")
        self.acked = os.path.join(directory, "acked.txt")
        self.after = int(conf.get("test.hang.after.acks", 0))

    def acked_ids(self):
        if not os.path.exists(self.acked):
            return 0
        with open(self.acked) as f:
            return sum(1 for line in f if line.strip())

    def process(self, tup):
        if not os.path.exists(self.marker) and self.acked_ids() >= self.after:
            open(self.marker, "w").close()
            while True:
                time.sleep(3600)
        self.emit([tup.values[0]])


if __name__ == "__main__":
    HangOnceBolt().run()
