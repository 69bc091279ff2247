"""Fetch and verify dataset files: pinned addresses, SHA-256 checked, atomic writes.

For every file of a dataset (:mod:`cikgwb.data.registry`):

1. if ``<data dir>/<dataset>/<path>`` exists and its SHA-256 matches, it is kept;
2. otherwise the bytes are streamed into a temporary file in the same folder
   (``.<name>.<random>.part``) while the digest is computed, the digest is compared with the
   pinned one, and only then the temporary file is renamed onto the final name
   (``os.replace``, atomic on one filesystem).

On a checksum mismatch, an HTTP error, a dropped connection or any other exception the
temporary file is deleted and a :class:`DownloadError` names the file, the address and (for a
mismatch) the expected and received digests. A file that is present but wrong is re-fetched
(with a warning); if that fails, the wrong file is left as it was and ``verify`` keeps
reporting it. Fetching never leaves a partial or unverified file under a final name.

Sources: the upstream raw addresses (default), an http(s) mirror laid out as
``<source>/<dataset>/<path>``, or a local folder with the same layout (``file://`` URLs too).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlparse
from urllib.request import Request, url2pathname, urlopen

from tqdm.auto import tqdm

import cikgwb.data.registry as registry  # the module, not the package (whose loader imports this one)
from cikgwb import __version__
from cikgwb.data.registry import DatasetSpec, FileSpec

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16
USER_AGENT = f"cikgwb/{__version__} (+dataset fetch)"

PathLike = str | os.PathLike[str]
Status = Literal["present", "downloaded", "replaced"]


class DownloadError(RuntimeError):
    """A file could not be fetched; the message names the file and where it came from."""


class ChecksumError(DownloadError):
    """Received bytes whose SHA-256 is not the pinned one."""

    def __init__(self, message: str, *, path: str, url: str, expected: str, got: str) -> None:
        super().__init__(message)
        self.path, self.url, self.expected, self.got = path, url, expected, got


class _Transient(Exception):
    """A failure worth retrying (dropped connection, timeout, HTTP 5xx)."""


@dataclass(frozen=True)
class FileResult:
    """What ``fetch`` did with one file: kept it (``present``), fetched it (``downloaded``), or
    fetched it over a present file with a wrong checksum (``replaced``)."""

    path: str
    status: Status
    source: str | None
    nbytes: int


@dataclass
class FetchReport:
    """Outcome of :func:`fetch` for one dataset."""

    dataset: str
    directory: Path
    files: list[FileResult] = field(default_factory=list)
    synthetic: bool = False

    @property
    def downloaded(self) -> list[str]:
        """Files that were transferred (``downloaded`` or ``replaced``)."""
        return [f.path for f in self.files if f.status != "present"]

    @property
    def skipped(self) -> list[str]:
        """Files already present with the right checksum."""
        return [f.path for f in self.files if f.status == "present"]

    def summary(self) -> str:
        if self.synthetic:
            return f"{self.dataset}: generated locally (cikgwb.data.synthetic); nothing to fetch"
        lines = [
            f"{self.dataset}: {len(self.files)} files in {self.directory} "
            f"({len(self.downloaded)} fetched, {len(self.skipped)} already verified)"
        ]
        lines += [f"  {f.status:<10} {f.path} ({f.nbytes:,} bytes)" for f in self.files]
        return "\n".join(lines)


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`: files that match, are missing, or have the wrong SHA-256."""

    dataset: str
    directory: Path
    verified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bad: list[tuple[str, str, str]] = field(default_factory=list)  # (path, expected, got)
    synthetic: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.bad

    def summary(self) -> str:
        if self.synthetic:
            return f"{self.dataset}: generated locally (cikgwb.data.synthetic); nothing to verify"
        n = len(self.verified) + len(self.missing) + len(self.bad)
        head = f"{self.dataset}: {len(self.verified)}/{n} files verified in {self.directory}" + (
            "" if self.ok else f"; {len(self.missing)} missing, {len(self.bad)} bad"
        )
        lines = [head]
        lines += [f"  missing    {p}" for p in self.missing]
        lines += [f"  bad        {p}: expected sha256 {e}, got {g}" for p, e, g in self.bad]
        if not self.ok:
            lines.append(f"  run `cikgwb data fetch {self.dataset}` to fetch them")
        return "\n".join(lines)


def sha256_file(path: PathLike) -> str:
    """Lowercase hex SHA-256 of the file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def verify(name: str, data_dir: PathLike | None = None) -> VerifyReport:
    """Check every file of dataset ``name`` under ``data_dir`` against its pinned SHA-256.

    Never raises for missing or bad files (see :attr:`VerifyReport.ok`); raises
    :class:`~cikgwb.data.registry.UnknownDatasetError` for an unknown name.
    """
    spec = registry.get_spec(name)
    directory = registry.dataset_dir(name, data_dir)
    report = VerifyReport(dataset=spec.name, directory=directory, synthetic=spec.synthetic)
    for f in spec.files:
        dest = directory / f.path
        if not dest.is_file():
            report.missing.append(f.path)
            continue
        got = sha256_file(dest)
        if got == f.sha256:
            report.verified.append(f.path)
        else:
            report.bad.append((f.path, f.sha256, got))
    return report


def fetch(
    name: str,
    data_dir: PathLike | None = None,
    source: PathLike | None = None,
    progress: bool = True,
    *,
    retries: int = 2,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> FetchReport:
    """Make ``<data_dir>/<name>/`` hold every file of dataset ``name`` with its pinned SHA-256.

    ``source``: ``None`` for the pinned upstream addresses, an ``http(s)://`` mirror base
    (files at ``<source>/<name>/<path>``), or a local folder / ``file://`` URL with the same
    layout. Connection failures and HTTP 5xx are retried ``retries`` times, waiting
    ``backoff * 2**k`` seconds before retry ``k``. Checksum mismatches and HTTP 4xx are not
    retried. Raises :class:`DownloadError` (:class:`ChecksumError` for a mismatch) on the
    first file that cannot be fetched; files fetched before it stay (they are verified).
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    spec = registry.get_spec(name)
    directory = registry.dataset_dir(name, data_dir)
    report = FetchReport(dataset=spec.name, directory=directory, synthetic=spec.synthetic)
    if spec.synthetic:
        return report
    locate = _locator(spec, source)
    for f in spec.files:
        dest = directory / f.path
        status: Status = "downloaded"
        if dest.is_file():
            got = sha256_file(dest)
            if got == f.sha256:
                report.files.append(FileResult(f.path, "present", None, dest.stat().st_size))
                continue
            log.warning(
                "%s/%s is present but its sha256 is %s, expected %s; fetching it again",
                spec.name,
                f.path,
                got,
                f.sha256,
            )
            status = "replaced"
        elif dest.exists():
            raise DownloadError(f"{dest} exists but is not a regular file; remove it and retry")
        where = locate(f)
        desc = f"{spec.name}/{f.path}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(where, Path):
            nbytes = _install(dest, f, desc, str(where), lambda fh, w=where: _copy_file(w, fh, desc, progress))
        else:
            nbytes = _install(
                dest,
                f,
                desc,
                where,
                lambda fh, w=where: _download_with_retries(w, fh, desc, progress, retries, backoff, timeout),
            )
        if progress:
            tqdm.write(f"{desc}: {status} ({nbytes:,} bytes, sha256 ok)", file=sys.stderr)
        report.files.append(FileResult(f.path, status, where if isinstance(where, str) else str(where), nbytes))
    return report


def _locator(spec: DatasetSpec, source: PathLike | None) -> Callable[[FileSpec], str | Path]:
    """Map a file to its URL (``str``) or local mirror path (``Path``)."""
    if source is None:
        return lambda f: f.url
    text = os.fspath(source)
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https"):
        base = text.rstrip("/")
        return lambda f: f"{base}/{quote(spec.name)}/{quote(f.path)}"
    if parsed.scheme == "file":
        root = Path(url2pathname(parsed.path))
    elif len(parsed.scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ValueError(
            f"unsupported source {text!r}: expected an http(s):// URL, a file:// "
            "URL or a local folder laid out as <source>/<dataset>/<file>"
        )
    else:
        root = Path(text).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"source folder {root} does not exist (expected a mirror laid out as {root}/{spec.name}/<file>)"
        )
    return lambda f: root / spec.name / f.path


def _install(dest: Path, f: FileSpec, desc: str, origin: str, write: Callable[[BinaryIO], tuple[str, int]]) -> int:
    """Write through ``write`` into a temp file beside ``dest``, verify, then rename onto it."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            got, nbytes = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if got != f.sha256:
            raise ChecksumError(
                f"checksum mismatch for {desc} from {origin}: expected sha256 {f.sha256}, "
                f"got {got} ({nbytes:,} bytes); {dest} was not written",
                path=f.path,
                url=origin,
                expected=f.sha256,
                got=got,
            )
        os.replace(tmp, dest)
        return nbytes
    except DownloadError:
        raise
    except Exception as exc:
        raise DownloadError(f"could not fetch {desc} from {origin}: {exc}; {dest} was not written") from exc
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful os.replace


def _download_with_retries(
    url: str, fh: BinaryIO, desc: str, progress: bool, retries: int, backoff: float, timeout: float
) -> tuple[str, int]:
    for attempt in range(retries + 1):
        fh.seek(0)
        fh.truncate()
        try:
            return _download(url, fh, desc, progress, timeout)
        except _Transient as exc:
            if attempt == retries:
                raise DownloadError(f"could not fetch {desc} from {url} after {attempt + 1} attempt(s): {exc}") from exc
            wait = backoff * 2**attempt
            log.warning("%s: %s; retrying in %.1f s (%d/%d)", desc, exc, wait, attempt + 1, retries)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _download(url: str, fh: BinaryIO, desc: str, progress: bool, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``fh``; return (sha256 hex, byte count)."""
    digest = hashlib.sha256()
    nbytes = 0
    try:
        with urlopen(Request(url, headers={"User-Agent": USER_AGENT}), timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=not progress,
                leave=False,
                file=sys.stderr,
            ) as bar:
                while chunk := resp.read(CHUNK_SIZE):
                    fh.write(chunk)
                    digest.update(chunk)
                    nbytes += len(chunk)
                    bar.update(len(chunk))
    except HTTPError as exc:
        message = f"HTTP {exc.code} {exc.reason}"
        if exc.code >= 500 or exc.code == 429:
            raise _Transient(message) from exc
        raise DownloadError(f"could not fetch {desc} from {url}: {message}") from exc
    except http.client.InvalidURL as exc:
        raise DownloadError(f"could not fetch {desc}: invalid URL {url!r}: {exc}") from exc
    except (URLError, ConnectionError, TimeoutError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _Transient(f"{type(exc).__name__}: {reason} after {nbytes:,} bytes") from exc
    if total is not None and nbytes != total:
        raise _Transient(f"connection closed after {nbytes:,} of {total:,} bytes")
    return digest.hexdigest(), nbytes


def _copy_file(src: Path, fh: BinaryIO, desc: str, progress: bool) -> tuple[str, int]:
    if not src.is_file():
        raise DownloadError(f"could not fetch {desc}: {src} does not exist in the mirror")
    digest = hashlib.sha256()
    nbytes = 0
    with (
        open(src, "rb") as inp,
        tqdm(
            total=src.stat().st_size,
            desc=desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
            leave=False,
            file=sys.stderr,
        ) as bar,
    ):
        while chunk := inp.read(CHUNK_SIZE):
            fh.write(chunk)
            digest.update(chunk)
            nbytes += len(chunk)
            bar.update(len(chunk))
    return digest.hexdigest(), nbytes


__all__ = [
    "ChecksumError",
    "DownloadError",
    "FetchReport",
    "FileResult",
    "VerifyReport",
    "fetch",
    "sha256_file",
    "verify",
]
