#!/usr/bin/env python3
"""A DRPC client from outside storm-rs: thriftpy2 with the storm.thrift that PyPI's streamparse ships
(``streamparse.thrift.storm_thrift``), framed transport and binary protocol, as Storm's DRPCClient speaks.

Usage:
    drpc_client.py HOST PORT FUNCTION ARGS [TIMEOUT_SECS]

Calls ``DistributedRPC.execute(FUNCTION, ARGS)`` and prints the result on stdout (exit 0). A
``DRPCExecutionException`` prints ``DRPCExecutionException: <msg>`` on stdout and exits 2 (streamparse's
schema predates the exception's ``type`` field, so only the message is known); any other error exits 1.
"""

import sys

from streamparse.thrift import storm_thrift
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.rpc import make_client
from thriftpy2.transport import TFramedTransportFactory


def main(argv):
    if len(argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        return 1
    host, port, func, args = argv[1], int(argv[2]), argv[3], argv[4]
    timeout_ms = int(float(argv[5]) * 1000) if len(argv) == 6 else 30_000
    client = make_client(
        storm_thrift.DistributedRPC,
        host,
        port,
        proto_factory=TBinaryProtocolFactory(),
        trans_factory=TFramedTransportFactory(),
        timeout=timeout_ms,
    )
    try:
        result = client.execute(func, args)
    except storm_thrift.DRPCExecutionException as e:
        print("DRPCExecutionException: %s" % e.msg)
        return 2
    finally:
        client.close()
    sys.stdout.write(result)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
