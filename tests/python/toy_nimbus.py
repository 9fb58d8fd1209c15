"""A stand-in Nimbus written with thriftpy2 and the storm.thrift that streamparse ships: an independent
Thrift implementation for testing storm-rs's Nimbus *client* (framed transport, binary protocol).

Usage: toy_nimbus.py PORT   -- serves getLeader and getNimbusConf on 127.0.0.1:PORT until killed.
"""
import json
import sys

from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.rpc import make_server
from thriftpy2.transport import TFramedTransportFactory

from streamparse.thrift import storm_thrift

PORT = int(sys.argv[1])


class Handler:
    def getLeader(self):
        return storm_thrift.NimbusSummary(host="127.0.0.1", port=PORT, uptime_secs=1, isLeader=True,
                                          version="2.8.0")

    def getNimbusConf(self):
        return json.dumps({"nimbus.thrift.port": PORT, "toy.nimbus.key": ["from", "toy"],
                           "storm.zookeeper.port": 2181})


server = make_server(storm_thrift.Nimbus, Handler(), host="127.0.0.1", port=PORT,
                     proto_factory=TBinaryProtocolFactory(), trans_factory=TFramedTransportFactory())
print("ready", flush=True)
server.serve()
