"""Real HTTP servers for tests: a FastAPI app on an ephemeral port (uvicorn in a thread), and a scripted
OpenAI-style chat endpoint on the standard library's server for retry and judging-policy tests."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def uvicorn_running(app) -> Iterator[str]:
    """Base URL (…/v1) of `app` served on 127.0.0.1 until the block ends."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# respond(request body, request number) -> (HTTP status, JSON payload)
Respond = Callable[[dict, int], tuple[int, dict]]
# reply(request body, request number) -> (HTTP status, judge text)
Reply = Callable[[dict, int], tuple[int, str]]


@contextmanager
def scripted_endpoint(respond: Respond) -> Iterator[tuple[str, list[dict]]]:
    """(base URL, list of request bodies received) of a POST endpoint answering per `respond`;
    a 429 carries Retry-After: 0 so client retries do not wait."""
    received: list[dict] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                received.append(body)
                status, payload = respond(body, len(received))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", received
    finally:
        server.shutdown()


def scripted_chat_endpoint(reply: Reply):
    """An OpenAI-style /v1/chat/completions answering per `reply`; non-200 replies are error bodies."""

    def respond(body: dict, n: int) -> tuple[int, dict]:
        status, text = reply(body, n)
        if status != 200:
            return status, {"error": {"message": text, "type": "server_error"}}
        return status, {"id": f"chat{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    return scripted_endpoint(respond)
