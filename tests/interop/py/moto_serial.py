"""moto's S3 server with requests handled one at a time.

moto checks `If-None-Match` / `If-Match` and then stores the object without a lock, so on
its threaded server two concurrent conditional PUTs can both succeed. Real S3 decides
them atomically. Serialising requests gives the tests S3's semantics.

Usage: moto_serial.py HOST PORT
"""
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serial(environ, start_response):
    with lock:
        # Consume the whole response inside the lock: the write happens while iterating.
        return list(app(environ, start_response))


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
run_simple(host, port, serial, threaded=True, request_handler=MotoRequestHandler)
