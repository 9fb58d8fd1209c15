"""The storm.py-style word counter (see ../multilang/storm_style.py) keeping its counts in
`$MULTILANG_CLUSTER_DATA/counts-<component>-<task>.json`, rewritten after every tuple. It emits
nothing: nothing subscribes to it, and the adapter treats an empty task-id list as an error."""
import json
import os

import storm_style


class CountFileBolt(storm_style.BasicBolt):
    def initialize(self, conf, context):
        self.counts = {}
        directory = os.environ.get("MULTILANG_CLUSTER_DATA") or conf["test.data.dir"]
        self.path = os.path.join(
            directory, "counts-%s-%s.json" % (context["componentid"], context["taskid"])
        )

    def process(self, tup):
        word = tup["tuple"][0]
        self.counts[word] = self.counts.get(word, 0) + 1
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.counts, f)
        os.rename(tmp, self.path)


if __name__ == "__main__":
    CountFileBolt().run()
