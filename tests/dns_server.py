#!/usr/bin/env python3
"""An authoritative DNS server on loopback for the custom-domain tests (UDP and TCP on one
port). It answers from a JSON zone file that the tests rewrite while it runs:
{"api.example.com": [["CNAME", "gateway.plexmcp.com"]], "_plexmcp-challenge.api.example.com":
[["TXT", "plexmcp-verify=…"]]}. Every answer has TTL 0; a name without records is NXDOMAIN;
a name whose records are [["SILENT", ""]] gets no answer (a name server that is down).
Prints "ready" once both sockets listen."""

import argparse
import json
import sys
import time

from dnslib import CNAME, QTYPE, RCODE, RR, TXT, DNSError
from dnslib.server import BaseResolver, DNSLogger, DNSServer

KINDS = {"CNAME": lambda value: CNAME(value), "TXT": lambda value: TXT(value)}


class ZoneFile(BaseResolver):
    def __init__(self, path):
        self.path = path

    def zone(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.aa = 1
        name = str(request.q.qname).rstrip(".").lower()
        asked = QTYPE[request.q.qtype]
        records = self.zone().get(name)
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if any(kind == "SILENT" for kind, _ in records):
            time.sleep(30)
            raise DNSError(f"{name}: left unanswered")
        for kind, value in records:
            if kind == asked and kind in KINDS:
                reply.add_answer(RR(request.q.qname, QTYPE.reverse[kind], ttl=0, rdata=KINDS[kind](value)))
        return reply


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--zone", required=True)
    args = parser.parse_args()
    resolver = ZoneFile(args.zone)
    quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
    servers = [
        DNSServer(resolver, address="127.0.0.1", port=args.port, tcp=tcp, logger=quiet) for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    print("ready", flush=True)
    while all(server.isAlive() for server in servers):
        time.sleep(0.5)
    sys.exit(1)


if __name__ == "__main__":
    main()
