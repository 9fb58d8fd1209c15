"""Fails every 10th tuple it receives, passes the others on (anchored) and acks them."""
from pystorm import Bolt


class FailEveryTenthBolt(Bolt):
    outputs = ["sentence"]
    auto_ack = False
    auto_fail = False

    def initialize(self, conf, ctx):
        self.seen = 0

    def process(self, tup):
        self.seen += 1
        if self.seen % 10 == 0:
            self.fail(tup)
        else:
            self.emit([tup.values[0]], anchors=[tup])
            self.ack(tup)


if __name__ == "__main__":
    FailEveryTenthBolt().run()
