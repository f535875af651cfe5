#!/usr/bin/env python3
"""The AWS emulator of the local stack: moto's server, handling one request at a time.

DynamoDB evaluates a write's condition and applies the write atomically. moto's own
threaded server does not: two concurrent conditional writes can both pass. Serialising
requests gives every call the atomicity DynamoDB gives it, so a test that races requests
proves what our conditions guarantee, not what the emulator happens to interleave.
(Queues are therefore short-polled locally: a long poll would hold the lock.)

moto makes a transaction all-or-nothing by deep-copying the whole table once per item of
the transaction, so every TransactWriteItems costs time in proportion to everything the
table holds, and the test suite slows down as it fills the table. `lean_transactions` keeps
the all-or-nothing rule while copying only the items the transaction names (moto computes
indexes from the items at query time, so restoring them restores the indexes too).

moto also answers each page of a `Query` of the table by sorting every item of the table
and walking from the first one to the page's start key; `lean_queries` hands it only the
query's partition, already past the start key, and an index query the table unsorted
(moto sorts what matches) — the same answers, without sorting the whole table per page.

E-mail sent through SES v2 is kept whole and served at `/_emulator/ses/sent`
(`record_sent_mail`), where the local gateway's mailbox reads it.
"""

import argparse
import bisect
import copy
import ctypes
import datetime
import json
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


SENT_MAIL_PATH = "/_emulator/ses/sent"


def serialised(app, sent_mail):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            if environ.get("PATH_INFO") == SENT_MAIL_PATH:
                body = json.dumps(sent_mail).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            return list(app(environ, start_response))

    return handle


def record_sent_mail():
    """moto keeps only one part (HTML, if any) of an SES v2 message in its backend: this
    keeps every message SES accepted whole (to, subject, text, HTML, time), oldest first,
    for the local gateway's mailbox (`GET /_local/mailbox`). Nothing is sent anywhere."""
    from moto.sesv2.responses import SESV2Response

    sent = []
    original = SESV2Response.send_email

    def send_email(self):
        answer = original(self)  # raises, recording nothing, when SES would refuse it
        params = json.loads(self.body)
        simple = params.get("Content", {}).get("Simple", {})
        body = simple.get("Body", {})
        sent.append({
            "to": params.get("Destination", {}).get("ToAddresses", []),
            "from": params.get("FromEmailAddress"),
            "subject": simple.get("Subject", {}).get("Data", ""),
            "text": body.get("Text", {}).get("Data", ""),
            "html": body.get("Html", {}).get("Data", ""),
            "sent_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        })
        return answer

    SESV2Response.send_email = send_email
    return sent


def lean_transactions():
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    state = {"lean": False}

    class Copier:
        """`copy` for moto's DynamoDB module: tables are not copied inside a transaction."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, *args):
            if state["lean"] and isinstance(value, models.Table):
                return value
            return copy.deepcopy(value, *args)

    models.copy = Copier()

    def named_items(self, transact_items):
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            attrs = op.get("Key") or op.get("Item")
            if table is None or not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
                continue
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attrs:
                    continue
                range_value = DynamoType(attrs[table.range_key_attr])
            yield table, hash_value, range_value

    def transact_write_items(self, transact_items):
        saved = [
            (table, h, r, copy.deepcopy(table.get_item(h, r)))
            for table, h, r in named_items(self, transact_items)
        ]
        state["lean"] = True
        try:
            return original(self, transact_items)
        except Exception:
            for table, h, r, item in reversed(saved):
                if item is not None:
                    if r is None:
                        table.items[h] = item
                    else:
                        table.items[h][r] = item
                elif r is None:
                    table.items.pop(h, None)
                else:
                    table.items.get(h, {}).pop(r, None)
            raise
        finally:
            state["lean"] = False

    backend.transact_write_items = transact_write_items


def lean_queries():
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    state = {}

    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, *args, **kwargs):
        index_name = kwargs.get("index_name", args[1] if len(args) > 1 else None)
        if index_name is not None:
            # moto sorts what the index query finds itself: the table need not be sorted.
            state["unsorted"] = self
        elif isinstance(hash_key, DynamoType) and self.range_key_attr:
            state["partition"] = (self, hash_key, exclusive_start_key, scan_index_forward)
        try:
            return original_query(
                self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, *args, **kwargs
            )
        finally:
            state.pop("partition", None)
            state.pop("unsorted", None)

    def all_items(self):
        if state.get("unsorted") is self:
            return [item for partition in self.items.values() for item in (partition.values() if self.range_key_attr else [partition])]
        partition = state.get("partition")
        if partition is None or partition[0] is not self:
            return original_all_items(self)
        _, hash_key, start, forward = partition
        items = sorted(self.items.get(hash_key, {}).values(), key=lambda item: item.range_key)
        if start and self.range_key_attr in start:
            at = DynamoType(start[self.range_key_attr])
            if forward:
                items = items[bisect.bisect_right(items, at, key=lambda item: item.range_key):]
            else:
                items = items[: bisect.bisect_left(items, at, key=lambda item: item.range_key)]
        return items

    Table.query = query
    Table.all_items = all_items


def stop_with_parent():
    """Asks the kernel for SIGTERM when the script that started the emulator ends, however
    it ends (as the local gateway does): an emulator left behind would hold the stack's
    lock and port, and a share of the machine, after its stack is gone. Exits at once if
    the parent is gone already."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    stop_with_parent()
    lean_transactions()
    lean_queries()
    sent_mail = record_sent_mail()
    app = DomainDispatcherApplication(create_backend_app)
    try:
        run_simple(args.host, args.port, serialised(app, sent_mail), threaded=True, request_handler=MotoRequestHandler)
    except KeyboardInterrupt:
        pass  # Ctrl-C on `make run` reaches the whole process group


if __name__ == "__main__":
    main()
