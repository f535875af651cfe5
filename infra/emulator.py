#!/usr/bin/env python3
"""The AWS emulator of the local stack: moto's server, handling one request at a time.

DynamoDB evaluates a write's condition and applies the write atomically. moto's own
threaded server does not: two concurrent conditional writes can both pass. Serialising
requests gives every call the atomicity DynamoDB gives it, so a test that races requests
proves what our conditions guarantee, not what the emulator happens to interleave.
(Queues are therefore short-polled locally: a long poll would hold the lock.)
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    try:
        run_simple(args.host, args.port, serialised(app), threaded=True, request_handler=MotoRequestHandler)
    except KeyboardInterrupt:
        pass  # Ctrl-C on `make run` reaches the whole process group


if __name__ == "__main__":
    main()
