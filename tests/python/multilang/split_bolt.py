from pystorm import Bolt


class SplitBolt(Bolt):
    outputs = ["word"]

    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])  # auto-anchored to tup; tup auto-acked after process()


if __name__ == "__main__":
    SplitBolt().run()
