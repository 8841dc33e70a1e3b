"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for unit tests of the LLM layer.

It is a real server (ChatOpenAI talks HTTP to it), but its replies come from a script: each entry is either a
reply text or an int HTTP status to fail with. Requests are recorded for assertions, with the task name the LLM
layer sends in the ``X-Iloop-Task`` header, so a responder answers by task, not by the prompt's wording.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedOpenAI:
    def __init__(self, script: list[str | int] | None = None, default: str = "ok", responder=None,
                 keep_alive_s: float | None = None) -> None:
        """``responder(request body, task name) -> reply`` answers when the script is used up (graph tests).

        ``keep_alive_s``: speak HTTP/1.1 and close a connection idle that long, as uvicorn (llama.cpp's Python
        server) does; by default every reply closes its connection."""
        self.script, self.default, self.requests, self.responder = list(script or []), default, [], responder
        owner = self

        class Handler(BaseHTTPRequestHandler):
            if keep_alive_s is not None:
                protocol_version, timeout = "HTTP/1.1", keep_alive_s

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                task = self.headers.get("X-Iloop-Task", "")
                owner.requests.append({"body": body, "auth": self.headers.get("Authorization"), "task": task})
                if owner.script:
                    step = owner.script.pop(0)
                elif owner.responder is not None:
                    step = owner.responder(body, task)
                else:
                    step = owner.default
                finish = "stop"
                if isinstance(step, tuple):  # (text, finish_reason)
                    step, finish = step
                if isinstance(step, int):
                    data = json.dumps({"error": {"message": "scripted failure"}}).encode()
                    self.send_response(step)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": finish,
                                      "message": {"role": "assistant", "content": step}}],
                         "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
