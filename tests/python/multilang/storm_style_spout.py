import storm_style

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class SentenceSpout(storm_style.Spout):
    def initialize(self, conf, context):
        self.total = int(conf.get("test.sentences", 50))
        self.next_id = 0
        self.replay = []

    def next_tuple(self):
        if self.replay:
            tup_id = self.replay.pop(0)
        elif self.next_id < self.total:
            tup_id = self.next_id
            self.next_id += 1
        else:
            return
        storm_style.emit([SENTENCES[tup_id % len(SENTENCES)]], tup_id=tup_id)

    def fail(self, tup_id):
        self.replay.append(tup_id)


if __name__ == "__main__":
    SentenceSpout().run()
