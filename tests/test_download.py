"""Registry and verified downloader, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cikgwb.data import download, registry
from cikgwb.data.download import ChecksumError, DownloadError, fetch, verify
from cikgwb.data.registry import DatasetSpec, FileSpec, UnknownDatasetError

try:
    from httpserver import FileServer
except ImportError:  # tests/ imported as a package
    from tests.httpserver import FileServer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# skipped on a developer machine without the data; under CI a missing folder fails loudly instead
needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "SHA256SUMS").is_file() and not (os.environ.get("CI") or os.environ.get("CIKGWB_REQUIRE_DATA")),
    reason=f"real data not at {SHARED_DATA}",
)

REPO, COMMIT = "someone/tinyrepo", "0123456789abcdef0123456789abcdef01234567"


def _leftovers(directory: Path) -> list[str]:
    """Every file under ``directory`` (temp files included), relative, sorted."""
    if not directory.exists():
        return []
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def _fake_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "a.txt": b"0 1 2 3\n1 4 5\n",
        "big.bin": rng.integers(0, 256, size=300_000, dtype=np.uint8).tobytes(),  # several chunks
        "sub dir/c.txt": b"head relation tail\n",
    }


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A fake dataset ``tiny`` (3 files) registered in the registry, served by a local server
    both as a mirror (``<root>/tiny/<path>``) and as "upstream" (``<root>/<repo>/<commit>/...``)."""
    files = _fake_files()
    root = tmp_path / "served"
    specs = []
    for rel, data in files.items():
        upstream = f"data/tiny/{rel}"
        for target in (root / "tiny" / rel, root / REPO / COMMIT / upstream):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        specs.append(
            FileSpec(
                path=rel, upstream_path=upstream, sha256=hashlib.sha256(data).hexdigest(), repo=REPO, commit=COMMIT
            )
        )
    spec = DatasetSpec(name="tiny", repo=REPO, commit=COMMIT, files=tuple(specs))
    monkeypatch.setitem(registry.REGISTRY, "tiny", spec)
    with FileServer(root) as srv:
        monkeypatch.setattr(registry, "RAW_BASE", srv.url)
        yield srv, spec, files, root, tmp_path / "data"


# ------------------------------------------------------------------------------------ registry


@needs_shared
def test_registry_checksums_match_shared_sha256sums():
    want = {}
    for line in (SHARED_DATA / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, rel = line.split()
            want[rel] = digest
    have = {f"{s.name}/{f.path}": f.sha256 for s in registry.REGISTRY.values() for f in s.files}
    assert have == want


def test_upstream_urls_are_pinned_to_commits():
    bc = registry.get_spec("book-crossing")
    assert bc.file("train.txt").url == (
        "https://raw.githubusercontent.com/laowangzi/CIKGRec/"
        "4cd310f605e8857883a508170e6753dcb05c4e98/data/book-crossing/train.txt"
    )
    ml = registry.get_spec("ml1m")
    assert "kg_final.txt" not in {f.path for f in ml.files}
    kg = ml.file("satori-kg/kg.txt")
    assert kg.url == (
        "https://raw.githubusercontent.com/Chris1nexus/RippleNETmod/"
        "970420a2046913d655f41922ed9d76e9ea665cfb/data/ml1m/kg.txt"
    )
    assert (
        ml.file("satori-kg/item_index2entity_id_rehashed.txt").upstream_path
        == "data/ml1m/item_index2entity_id_rehashed.txt"
    )
    syn = registry.get_spec("synthetic")
    assert syn.synthetic and syn.files == ()
    assert registry.names() == ["book-crossing", "dbbook2014", "ml1m", "synthetic"]


def test_unknown_dataset_name_is_a_clear_error(tmp_path):
    for call in (
        lambda: registry.get_spec("movielens"),
        lambda: registry.dataset_dir("movielens"),
        lambda: fetch("movielens", tmp_path, progress=False),
        lambda: verify("movielens", tmp_path),
    ):
        with pytest.raises(UnknownDatasetError) as err:
            call()
        assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
        msg = str(err.value)
        assert "'movielens'" in msg and "book-crossing, dbbook2014, ml1m, synthetic" in msg
    with pytest.raises(KeyError, match="no file 'nope.txt'"):
        registry.get_spec("ml1m").file("nope.txt")


def test_data_root_and_dataset_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(registry.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("CIKGWB_ROOT", raising=False)
    tmp_path = tmp_path.resolve()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_data.ipynb").write_text("{}")  # tmp_path is a project folder
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert registry.data_root() == tmp_path / "data"  # <project>/data, not ./data
    monkeypatch.setenv(registry.DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    assert registry.data_root() == tmp_path / "elsewhere"
    assert registry.dataset_dir("ml1m") == tmp_path / "elsewhere" / "ml1m"
    assert registry.dataset_dir("ml1m", tmp_path / "x") == tmp_path / "x" / "ml1m"


# ------------------------------------------------------------------------------------ fetch


@needs_shared
def test_fetch_real_book_crossing_through_http_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED_DATA / "book-crossing", mirror / "book-crossing")
    data = tmp_path / "data"
    with FileServer(mirror) as srv:
        report = fetch("book-crossing", data, source=srv.url + "/", progress=False)
        assert len(report.downloaded) == 8 and report.skipped == []
        assert sorted(srv.requests) == sorted(
            f"book-crossing/{f.path}" for f in registry.get_spec("book-crossing").files
        )
        again = fetch("book-crossing", data, source=srv.url, progress=False)
        assert again.downloaded == [] and len(again.skipped) == 8
        assert len(srv.requests) == 8  # nothing fetched the second time
    check = verify("book-crossing", data)
    assert check.ok and len(check.verified) == 8
    assert (data / "book-crossing" / "train.txt").read_bytes() == (
        SHARED_DATA / "book-crossing" / "train.txt"
    ).read_bytes()
    assert _leftovers(data / "book-crossing") == sorted(p.name for p in mirror.joinpath("book-crossing").iterdir())


def test_fetch_from_pinned_upstream_address(tiny):
    srv, spec, files, _, data = tiny
    report = fetch("tiny", data, progress=False)
    assert [f.status for f in report.files] == ["downloaded"] * 3
    assert set(srv.requests) == {f"{REPO}/{COMMIT}/data/tiny/{rel}" for rel in files}
    for rel, content in files.items():
        assert (data / "tiny" / rel).read_bytes() == content
    assert report.files[1].nbytes == 300_000
    assert _leftovers(data / "tiny") == sorted(files)


def test_rerun_downloads_nothing(tiny):
    srv, _, files, _, data = tiny
    fetch("tiny", data, source=srv.url, progress=False)
    assert len(srv.requests) == 3
    report = fetch("tiny", data, source=srv.url, progress=False)
    assert report.skipped == list(files) and report.downloaded == []
    assert len(srv.requests) == 3


def test_corrupted_file_raises_and_leaves_nothing(tiny):
    srv, spec, files, root, data = tiny
    served = root / "tiny" / "big.bin"
    served.write_bytes(b"X" + served.read_bytes()[1:])
    got = hashlib.sha256(served.read_bytes()).hexdigest()
    with pytest.raises(ChecksumError) as err:
        fetch("tiny", data, source=srv.url, progress=False)
    msg = str(err.value)
    expected = spec.file("big.bin").sha256
    assert f"{srv.url}/tiny/big.bin" in msg and expected in msg and got in msg
    assert "tiny/big.bin" in msg
    assert (err.value.expected, err.value.got) == (expected, got)
    # the file before it is kept (verified), the bad one and the one after are absent, no temp
    assert _leftovers(data / "tiny") == ["a.txt"]
    assert srv.count()["tiny/big.bin"] == 1  # a checksum mismatch is not retried


def test_dropped_connection_raises_and_leaves_nothing(tiny):
    srv, _, _, _, data = tiny
    srv.truncate.add("tiny/big.bin")
    with pytest.raises(DownloadError) as err:
        fetch("tiny", data, source=srv.url, progress=False, retries=1, backoff=0)
    msg = str(err.value)
    assert "tiny/big.bin" in msg and f"{srv.url}/tiny/big.bin" in msg
    assert "connection closed after 150,000 of 300,000 bytes" in msg
    assert srv.count()["tiny/big.bin"] == 2  # tried, retried once
    assert _leftovers(data / "tiny") == ["a.txt"]
    assert not verify("tiny", data).ok


def test_dropped_connection_is_retried(tiny, caplog):
    srv, _, files, _, data = tiny
    srv.drop_first["tiny/big.bin"] = 2
    with caplog.at_level(logging.WARNING, logger=download.__name__):
        report = fetch("tiny", data, source=srv.url, progress=False, retries=2, backoff=0)
    assert report.downloaded == list(files)
    assert srv.count()["tiny/big.bin"] == 3
    assert "retrying" in caplog.text
    assert verify("tiny", data).ok and _leftovers(data / "tiny") == sorted(files)


def test_http_error_is_reported_and_4xx_not_retried(tiny):
    srv, _, _, _, data = tiny
    srv.status["tiny/a.txt"] = 404
    with pytest.raises(DownloadError, match=r"tiny/a\.txt.*HTTP 404") as err:
        fetch("tiny", data, source=srv.url, progress=False, backoff=0)
    assert f"{srv.url}/tiny/a.txt" in str(err.value)
    assert srv.count()["tiny/a.txt"] == 1
    srv.status["tiny/a.txt"] = 503
    with pytest.raises(DownloadError, match="HTTP 503"):
        fetch("tiny", data, source=srv.url, progress=False, retries=2, backoff=0)
    assert srv.count()["tiny/a.txt"] == 1 + 3
    assert _leftovers(data / "tiny") == []


def test_present_file_with_wrong_checksum_is_fetched_again(tiny, caplog):
    srv, spec, files, _, data = tiny
    fetch("tiny", data, source=srv.url, progress=False)
    (data / "tiny" / "sub dir" / "c.txt").write_bytes(b"tampered\n")
    bad = verify("tiny", data)
    assert not bad.ok and [b[0] for b in bad.bad] == ["sub dir/c.txt"]
    with caplog.at_level(logging.WARNING, logger=download.__name__):
        report = fetch("tiny", data, source=srv.url, progress=False)
    assert [f.status for f in report.files] == ["present", "present", "replaced"]
    assert "sub dir/c.txt is present but its sha256" in caplog.text
    assert (data / "tiny" / "sub dir" / "c.txt").read_bytes() == files["sub dir/c.txt"]
    assert len(srv.requests) == 4 and verify("tiny", data).ok


def test_local_directory_mirror(tiny):
    srv, _, files, root, data = tiny
    report = fetch("tiny", data, source=root, progress=False)
    assert report.downloaded == list(files) and srv.requests == []
    assert report.files[0].source == str(root / "tiny" / "a.txt")
    assert verify("tiny", data).ok
    # a file:// URL works as well; corrupt mirror files fail the same way as over HTTP
    data2 = data.parent / "data2"
    (root / "tiny" / "a.txt").write_bytes(b"not the same\n")
    with pytest.raises(ChecksumError, match=r"tiny/a\.txt"):
        fetch("tiny", data2, source=root.as_uri(), progress=False)
    assert _leftovers(data2 / "tiny") == []
    (root / "tiny" / "a.txt").unlink()
    with pytest.raises(DownloadError, match="does not exist in the mirror"):
        fetch("tiny", data2, source=root, progress=False)
    with pytest.raises(FileNotFoundError, match="source folder"):
        fetch("tiny", data2, source=root / "nowhere", progress=False)
    with pytest.raises(ValueError, match="unsupported source"):
        fetch("tiny", data2, source="ftp://example.org/x", progress=False)
    assert _leftovers(data2) == []


def test_verify_reports_missing_and_bad(tiny):
    srv, spec, _, _, data = tiny
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "a.txt").write_bytes(b"wrong")
    report = verify("tiny", data)
    assert not report.ok and report.verified == []
    assert report.missing == ["big.bin", "sub dir/c.txt"]
    assert report.bad == [("a.txt", spec.file("a.txt").sha256, hashlib.sha256(b"wrong").hexdigest())]
    assert "2 missing, 1 bad" in report.summary()


def test_synthetic_has_nothing_to_fetch(tmp_path):
    report = fetch("synthetic", tmp_path, progress=False)
    assert report.synthetic and report.files == [] and "generated locally" in report.summary()
    assert verify("synthetic", tmp_path).ok
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------ CLI


def _cli():
    from cikgwb.cli import build_parser

    return build_parser()


def test_cli_fetch_and_verify(tiny, capsys):
    srv, _, _, _, data = tiny
    parser = _cli()
    args = parser.parse_args(["data", "fetch", "tiny", "--source", srv.url, "--data-dir", str(data), "--no-progress"])
    assert args.func(args) == 0
    assert "3 fetched, 0 already verified" in capsys.readouterr().out
    args = parser.parse_args(["data", "verify", "tiny", "--data-dir", str(data)])
    assert args.func(args) == 0
    assert "3/3 files verified" in capsys.readouterr().out
    (data / "tiny" / "a.txt").unlink()
    assert args.func(args) == 1
    assert "missing    a.txt" in capsys.readouterr().out
    srv.truncate.add("tiny/a.txt")
    args = parser.parse_args(
        ["data", "fetch", "tiny", "--source", srv.url, "--data-dir", str(data), "--no-progress", "--retries", "0"]
    )
    assert args.func(args) == 1
    assert "error: could not fetch tiny/a.txt" in capsys.readouterr().err
    args = parser.parse_args(["data", "fetch", "movielens", "--data-dir", str(data)])
    assert args.func(args) == 1
    assert "unknown dataset 'movielens'" in capsys.readouterr().err


def test_progress_output_goes_to_stderr(tiny, capsys):
    srv, _, _, _, data = tiny
    fetch("tiny", data, source=srv.url, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "tiny/big.bin: downloaded (300,000 bytes, sha256 ok)" in captured.err
