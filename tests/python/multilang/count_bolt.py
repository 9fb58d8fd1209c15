from collections import Counter

from pystorm import Bolt


class CountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, ctx):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] += 1
        self.emit([word, self.counts[word]])

    def process_tick(self, tup):
        self.log("counts so far: %s" % dict(self.counts.most_common(3)))


if __name__ == "__main__":
    CountBolt().run()
