"""pystorm word counter that keeps its counts in a file: after every tuple it rewrites
`$MULTILANG_CLUSTER_DATA/counts-<component>-<task>.json` (temporary name + rename), so a test outside
the cluster can read the counts."""
import json
import os
from collections import Counter

from pystorm import Bolt


def data_dir(conf):
    return os.environ.get("MULTILANG_CLUSTER_DATA") or conf["test.data.dir"]


class CountFileBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, ctx):
        self.counts = Counter()
        self.path = os.path.join(
            data_dir(conf), "counts-%s-%s.json" % (ctx["componentid"], ctx["taskid"])
        )

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] += 1
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.counts, f)
        os.rename(tmp, self.path)
        self.emit([word, self.counts[word]])


if __name__ == "__main__":
    CountFileBolt().run()
