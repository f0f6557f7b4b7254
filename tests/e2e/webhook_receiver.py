"""A local webhook receiver for the black-box tests: a threaded HTTP server on 127.0.0.1
that records every POST and answers from a script (status codes, extra headers)."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time


class Received:
    def __init__(self, headers, body):
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.at = time.time()

    def json(self):
        return json.loads(self.body)


class WebhookReceiver:
    """`responses` is a list of (status, headers) used in order, then `default` forever."""

    def __init__(self, port=0, responses=None, default=(200, {})):
        self.responses = list(responses or [])
        self.default = default
        self.received = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(Received(self.headers, body))
                    status, extra = (receiver.responses.pop(0) if receiver.responses
                                     else receiver.default)
                    receiver.arrived.notify_all()
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, predicate, timeout=15):
        """Waits until predicate(list of Received) is true; returns the list."""
        deadline = time.time() + timeout
        with self.lock:
            while not predicate(self.received):
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(
                        f"webhook receiver: condition not met; got {[r.body for r in self.received]}")
                self.arrived.wait(left)
            return list(self.received)

    def snapshot(self):
        with self.lock:
            return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify_signatures(received, secret):
    """Checks both signature schemes of api.md §6.8 independently of the server's code."""
    h = received.headers
    body = received.body
    expected_contex = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h["x-contex-signature"], expected_contex), h
    key = secret.encode()
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    expected_standard = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(h["webhook-signature"], expected_standard), h
    assert abs(time.time() - int(h["webhook-timestamp"])) < 300
