"""Answers the handshake and heartbeats until its first tuple, then stops answering anything."""
import time

from pystorm import Bolt


class HangingBolt(Bolt):
    def process(self, tup):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    HangingBolt().run()
