"""A tiny file server on 127.0.0.1 for download tests, with switchable failure modes.

``with FileServer(root) as srv:`` serves ``root/<path>`` at ``srv.url + "/<path>"`` from a
thread; ``srv.requests`` lists the paths asked for. Failure modes, keyed by the served path
(no leading slash), may be changed while it runs:

- ``truncate``: paths whose body is cut in half (the full Content-Length is announced, then the
  connection is closed);
- ``drop_first``: ``{path: n}``: the first ``n`` requests for ``path`` are truncated, later ones
  are served whole;
- ``status``: ``{path: code}``: answer with that HTTP error code.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class FileServer:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.requests: list[str] = []
        self.truncate: set[str] = set()
        self.drop_first: dict[str, int] = {}
        self.status: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def count(self) -> Counter[str]:
        with self._lock:
            return Counter(self.requests)

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path).lstrip("/")
                with server._lock:
                    server.requests.append(path)
                    n_seen = server.requests.count(path)
                if path in server.status:
                    self.send_error(server.status[path])
                    return
                file = (server.root / path).resolve()
                if server.root.resolve() not in file.parents or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                cut = path in server.truncate or n_seen <= server.drop_first.get(path, 0)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if cut else data)
                self.wfile.flush()
                if cut:
                    self.close_connection = True

        return Handler
