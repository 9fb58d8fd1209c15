"""A finite, reliable sentence spout: emits `test.sentences` sentences (ids "0", "1", ...) once each,
and replays a sentence when Storm fails it."""
from pystorm import Spout

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class SentenceSpout(Spout):
    outputs = ["sentence"]

    def initialize(self, storm_conf, context):
        self.total = int(storm_conf.get("test.sentences", 50))
        self.next_id = 0
        self.replay = []

    def next_tuple(self):
        if self.replay:
            tup_id = self.replay.pop(0)
        elif self.next_id < self.total:
            tup_id = str(self.next_id)
            self.next_id += 1
        else:
            return
        self.emit([SENTENCES[int(tup_id) % len(SENTENCES)]], tup_id=tup_id)

    def ack(self, tup_id):
        pass

    def fail(self, tup_id):
        self.replay.append(tup_id)


if __name__ == "__main__":
    SentenceSpout().run()
