import storm_style


class SplitBolt(storm_style.BasicBolt):
    def process(self, tup):
        for word in tup["tuple"][0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitBolt().run()
