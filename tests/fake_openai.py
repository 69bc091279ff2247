"""A fake OpenAI-compatible server for the tests: real HTTP on 127.0.0.1, port 0.

Speaks the wire format of ``POST /v1/chat/completions``, ``POST /v1/files`` (multipart upload),
``GET /v1/files/{id}`` and ``/v1/files/{id}/content``, ``POST /v1/batches``,
``GET /v1/batches/{id}`` and ``GET /v1/batches`` (list), with configurable faults:

- ``faults``: a queue of faults, one taken per chat request: ``("429", retry_after_seconds)``,
  ``("429-ms", milliseconds)`` (``retry-after-ms`` header), ``("500",)``, ``("401",)``,
  ``("drop",)`` (connection closed without a response), ``("delay", seconds)``;
- ``delay``: seconds every chat answer waits before it is sent;
- ``gate``: a ``threading.Event``; while it is not set, chat answers wait for it (at most 120 s):
  a test holds a client mid-request for as long as it needs, whatever the machine's load;
- ``answer(body) -> str``: the answer text (malformed answers come from here);
- batches: complete after ``batch_polls`` retrieves; ``batch_fail`` maps custom_id -> how many
  times its request fails (it lands in the error file with status 500).

Everything received is recorded (``chat_bodies``, ``answered_bodies``, ``auth_headers``,
``batches``, ``files``), under a lock.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit


def default_answer(body: dict[str, Any]) -> str:
    """A deterministic answer derived from the user message."""
    text = body["messages"][-1]["content"]
    n = sum(map(ord, text))
    pool = ["fantasy", "science fiction", "mystery", "romance", "history", "travel", "cooking"]
    return ", ".join(pool[(n + k) % len(pool)] for k in range(3))


def completion(body: dict[str, Any], content: str, n: int) -> dict[str, Any]:
    prompt = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": len(content) // 4 + 1,
            "total_tokens": prompt + len(content) // 4 + 1,
        },
    }


class FakeOpenAI:
    def __init__(
        self,
        answer: Callable[[dict[str, Any]], str] = default_answer,
        delay: float = 0.0,
        faults: list[tuple] | None = None,
        batch_polls: int = 2,
        batch_fail: dict[str, int] | None = None,
        gate: threading.Event | None = None,
    ):
        self.answer = answer
        self.delay = delay
        self.gate = gate
        self.faults: deque[tuple] = deque(faults or [])
        self.batch_polls = batch_polls
        self.batch_fail = dict(batch_fail or {})
        self.lock = threading.Lock()
        self.chat_bodies: list[dict[str, Any]] = []
        self.answered_bodies: list[dict[str, Any]] = []
        self.auth_headers: set[str] = set()
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_polls_seen: dict[str, int] = {}
        self._n = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifetime
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                fake._dispatch(self, "POST")

            def do_GET(self) -> None:
                fake._dispatch(self, "GET")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                import sys

                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)  # a client gone away is normal here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeOpenAI":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._n += 1
            return f"{prefix}-{self._n}"

    # ------------------------------------------------------------------ http
    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _error(
        h: BaseHTTPRequestHandler,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        FakeOpenAI._send(h, status, {"error": {"message": message, "type": "fake", "code": code}}, headers)

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        with self.lock:
            self.auth_headers.add(h.headers.get("Authorization", ""))
        path = urlsplit(h.path).path
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = path.strip("/").split("/")
        if parts[:1] == ["v1"]:
            parts = parts[1:]
        if method == "POST" and parts == ["chat", "completions"]:
            return self._chat(h, json.loads(body))
        if method == "POST" and parts == ["files"]:
            return self._upload(h, body)
        if method == "GET" and len(parts) == 2 and parts[0] == "files":
            f = self.files.get(parts[1])
            return self._send(h, 200, f["meta"]) if f else self._error(h, 404, "no such file")
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            f = self.files.get(parts[1])
            return self._send(h, 200, None, raw=f["content"]) if f else self._error(h, 404, "no such file")
        if method == "POST" and parts == ["batches"]:
            return self._create_batch(h, json.loads(body))
        if method == "GET" and parts == ["batches"]:
            with self.lock:
                data = [dict(b["obj"]) for b in self.batches.values()][::-1]
            return self._send(
                h,
                200,
                {
                    "object": "list",
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
        if method == "GET" and len(parts) == 2 and parts[0] == "batches":
            return self._retrieve_batch(h, parts[1])
        return self._error(h, 404, f"no route {method} {path}")

    def _chat(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        with self.lock:
            self.chat_bodies.append(body)
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            kind = fault[0]
            if kind == "429":
                return self._error(h, 429, "rate limited", "rate_limit_exceeded", {"Retry-After": str(fault[1])})
            if kind == "429-ms":
                return self._error(h, 429, "rate limited", "rate_limit_exceeded", {"retry-after-ms": str(fault[1])})
            if kind == "500":
                return self._error(h, 500, "internal error")
            if kind == "401":
                return self._error(h, 401, "invalid api key", "invalid_api_key")
            if kind == "drop":
                h.close_connection = True
                return None  # no response at all: the client sees a dropped connection
            if kind == "delay":
                time.sleep(fault[1])
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait(120)
        content = self.answer(body)
        with self.lock:
            self._n += 1
            n = self._n
        self._send(h, 200, completion(body, content, n))
        with self.lock:
            self.answered_bodies.append(body)

    def _upload(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        ctype = h.headers.get("Content-Type", "")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body
        )
        fields: dict[str, Any] = {}
        filename = "upload.jsonl"
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                filename = part.get_filename()
            fields[name] = part.get_payload(decode=True)
        if "file" not in fields:
            return self._error(h, 400, "no file field")
        fid = self.next_id("file")
        meta = {
            "id": fid,
            "object": "file",
            "bytes": len(fields["file"]),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": (fields.get("purpose") or b"").decode(),
            "status": "processed",
        }
        with self.lock:
            self.files[fid] = {"meta": meta, "content": fields["file"]}
        self._send(h, 200, meta)

    def _add_file(self, content: bytes, name: str, purpose: str) -> str:
        fid = self.next_id("file")
        meta = {
            "id": fid,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
        }
        with self.lock:
            self.files[fid] = {"meta": meta, "content": content}
        return fid

    def _create_batch(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        f = self.files.get(body.get("input_file_id", ""))
        if f is None:
            return self._error(h, 400, "unknown input_file_id")
        lines = [json.loads(x) for x in f["content"].decode().splitlines() if x.strip()]
        bid = self.next_id("batch")
        obj = {
            "id": bid,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        with self.lock:
            self.batches[bid] = {"obj": obj, "lines": lines, "polls": 0}
        self._send(h, 200, obj)

    def _retrieve_batch(self, h: BaseHTTPRequestHandler, bid: str) -> None:
        with self.lock:
            b = self.batches.get(bid)
            if b is None:
                return self._error(h, 404, "no such batch")
            b["polls"] += 1
            done = b["polls"] >= self.batch_polls and b["obj"]["status"] != "completed"
            if not done and b["obj"]["status"] == "validating":
                b["obj"]["status"] = "in_progress"
        if done:
            self._finish_batch(b)
        self._send(h, 200, b["obj"])

    def _finish_batch(self, b: dict[str, Any]) -> None:
        out, err = [], []
        for k, line in enumerate(b["lines"]):
            cid = line["custom_id"]
            with self.lock:
                fail = self.batch_fail.get(cid, 0) > 0
                if fail:
                    self.batch_fail[cid] -= 1
            if fail:
                err.append(
                    {
                        "id": f"req-{k}",
                        "custom_id": cid,
                        "response": {
                            "status_code": 500,
                            "request_id": f"r{k}",
                            "body": {"error": {"message": "server error", "type": "fake"}},
                        },
                        "error": None,
                    }
                )
            else:
                content = self.answer(line["body"])
                out.append(
                    {
                        "id": f"req-{k}",
                        "custom_id": cid,
                        "response": {
                            "status_code": 200,
                            "request_id": f"r{k}",
                            "body": completion(line["body"], content, k),
                        },
                        "error": None,
                    }
                )
                with self.lock:
                    self.answered_bodies.append(line["body"])
        obj = b["obj"]
        if out:
            obj["output_file_id"] = self._add_file(
                "".join(json.dumps(x) + "\n" for x in out).encode(), "output.jsonl", "batch_output"
            )
        if err:
            obj["error_file_id"] = self._add_file(
                "".join(json.dumps(x) + "\n" for x in err).encode(), "errors.jsonl", "batch_output"
            )
        obj["request_counts"] = {"total": len(b["lines"]), "completed": len(out), "failed": len(err)}
        obj["status"] = "completed"
        obj["completed_at"] = int(time.time())


if __name__ == "__main__":  # a manual run: python tests/fake_openai.py
    import sys

    with FakeOpenAI(delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0) as fake:
        print(fake.base_url, flush=True)
        threading.Event().wait()
