import storm_style


class CountBolt(storm_style.BasicBolt):
    def initialize(self, conf, context):
        self.counts = {}

    def process(self, tup):
        word = tup["tuple"][0]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit([word, self.counts[word]])


if __name__ == "__main__":
    CountBolt().run()
