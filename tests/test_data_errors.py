"""Bad data files checked at the door (issue 20): each gives one clear line naming the file and
the line (or the file and what is wrong), or a loud warning where tolerance is deliberate.

Every case starts from a tiny valid dataset written here (3 users, 6 items, 8 entities)."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from cikgwb.data import DataFormatError, load_dataset, load_from_dir, registry

FILES = {
    "item_list.txt": "org_id remap_id name\nI0 0 Alpha\nI1 1 Beta\nI2 2 Gamma\nI3 3 Delta\nI4 4 Epsilon\nI5 5 Zeta\n",
    "user_list.txt": "org_id remap_id\nU0 0\nU1 1\nU2 2\n",
    "entity_list.txt": "org_id remap_id\n" + "".join(f"E{e} {e}\n" for e in range(8)),
    "relation_list.txt": "org_id remap_id\nr.genre 0\nr.author 1\n",
    "train.txt": "0 0 1 2\n1 2 3 5\n2 4 5 0\n",
    "test.txt": "0 3\n1 4\n2 1\n",
    "kg_final.txt": "0 0 6\n1 0 6\n2 1 7\n3 1 7\n",
    "user_interest_clustered.txt": "0 100\n1 100\n2 101\n",
}


@pytest.fixture()
def tiny(tmp_path) -> Path:
    root = tmp_path / "tiny"
    root.mkdir()
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_tiny_loads(tiny):
    ds = load_from_dir(tiny)
    assert (ds.n_users, ds.n_items, ds.n_entities, ds.n_interests) == (3, 6, 8, 2)
    assert len(ds.train_full) == 9 and len(ds.test) == 3


def _raises(root: Path, pattern: str, **kw) -> str:
    with pytest.raises(DataFormatError, match=pattern) as err:
        load_from_dir(root, **kw)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_folder_where_a_file_should_be(tiny):
    (tiny / "train.txt").unlink()
    (tiny / "train.txt").mkdir()
    _raises(tiny, r"train.txt: is a folder, expected a file")


def test_id_above_int64(tiny):
    (tiny / "train.txt").write_text("0 0 1 2\n1 99999999999999999999 3\n2 4 5\n")
    _raises(tiny, r"train.txt:2: item id 99999999999999999999 is too large \(expected ids below 2\*\*63")


@pytest.mark.parametrize("tok", ["7_31", "+731", "\uff17\uff13\uff11", "٣", "0x1f", "1e3", "3.0"])
def test_only_ascii_digits_are_ids(tiny, tok):
    (tiny / "train.txt").write_text(f"0 0 1 2\n1 2 {tok}\n2 4 5\n", encoding="utf-8")
    _raises(tiny, re.escape(f"train.txt:2: item id {tok!r} is not an integer (expected the digits 0-9 only)"))


def test_negative_id_still_named(tiny):
    (tiny / "kg_final.txt").write_text("0 0 6\n1 0 -6\n")
    _raises(tiny, r"kg_final.txt:2: id -6 is negative")


def test_not_utf8_names_file_and_line(tiny):
    (tiny / "item_list.txt").write_bytes(FILES["item_list.txt"].replace("Gamma", "G\u00e9mma").encode("latin-1"))
    _raises(tiny, r"item_list.txt:4: byte 0xe9 is not UTF-8; expected UTF-8 text")


def test_utf16_is_named(tiny):
    (tiny / "train.txt").write_text(FILES["train.txt"], encoding="utf-16")  # with a BOM
    _raises(tiny, r"train.txt: UTF-16 text \(byte-order mark fffe\); expected UTF-8")
    (tiny / "train.txt").write_bytes(FILES["train.txt"].encode("utf-16-le"))  # without
    _raises(tiny, r"train.txt:1: NUL byte \(UTF-16 or binary data\?\); expected UTF-8 text")


def test_utf8_bom_is_dropped(tiny):
    plain = load_from_dir(tiny)
    (tiny / "train.txt").write_bytes(b"\xef\xbb\xbf" + FILES["train.txt"].encode())
    (tiny / "user_list.txt").write_bytes(b"\xef\xbb\xbf" + FILES["user_list.txt"].encode())
    ds = load_from_dir(tiny)
    assert np.array_equal(ds.train_full, plain.train_full)


def test_truncated_last_line_is_a_loud_warning(tiny, caplog):
    (tiny / "test.txt").write_text("0 3\n1 4\n2 1")  # cut mid-line: no final newline
    with caplog.at_level(logging.WARNING, logger="cikgwb.data.loader"):
        load_from_dir(tiny)
    msgs = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("test.txt:3: the last line has no newline: the file may be cut short" in m for m in msgs), msgs
    caplog.clear()
    (tiny / "test.txt").write_text("0 3\n1 4\n2 1\n")
    with caplog.at_level(logging.WARNING, logger="cikgwb.data.loader"):
        load_from_dir(tiny)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_header_only_user_list_blames_user_list(tiny):
    (tiny / "user_list.txt").write_text("org_id remap_id\n")
    msg = _raises(tiny, r"user_list.txt: only a header line, no entries")
    assert "train.txt" not in msg


def test_short_user_list_names_both_files(tiny):
    (tiny / "user_list.txt").write_text("org_id remap_id\nU0 0\nU1 1\n")
    _raises(tiny, r"train.txt:3: user id 2 out of range \(expected < 2 users\); user_list.txt lists 2")


def test_missing_interest_file_fails_unless_interests_are_off(tiny, caplog):
    (tiny / "user_interest_clustered.txt").unlink()
    _raises(
        tiny,
        r"user_interest_clustered.txt: file not found; without it CIKGRec would train without "
        r"interests .*--interests none",
    )
    from cikgwb.data.interest_files import NONE, InterestSource

    with caplog.at_level(logging.WARNING, logger="cikgwb.data.loader"):
        ds = load_from_dir(tiny, interests=NONE)  # a run with interests none: the file is not needed
    assert ds.n_interests == 0 and ds.meta["interests_source"] == "none"
    assert not caplog.records
    ds = load_from_dir(tiny, interests=InterestSource.parse(str(tiny)))  # another graph: neither
    assert ds.meta["interests_source"] == "none (user_interest_clustered.txt missing)"
    with caplog.at_level(logging.WARNING, logger="cikgwb.data.loader"):
        ds = load_from_dir(tiny, interests=None)  # not a run (data stats): what is there, with a warning
    assert ds.meta["interests_source"] == "none (user_interest_clustered.txt missing)"
    assert any("user_interest_clustered.txt: file not found" in r.getMessage() for r in caplog.records)
    with pytest.raises(TypeError, match="interests='paper': expected an InterestSource"):
        load_from_dir(tiny, interests="paper")  # the old vocabulary (paper/optional/none) is gone


def test_huge_entity_id_is_rejected_with_its_line(tiny):
    (tiny / "kg_final.txt").write_text("0 0 6\n1 0 1000000000\n2 1 7\n")
    _raises(
        tiny,
        r"kg_final.txt:2: entity id 1,000,000,000 out of range \(expected < 8, the number listed in "
        r"entity_list.txt",
    )
    (tiny / "entity_list.txt").unlink()  # without a list: not far beyond the ids present
    _raises(tiny, r"kg_final.txt:2: entity id 1,000,000,000 is far beyond the 9 distinct entity ids")
    (tiny / "kg_final.txt").write_text("0 0 6\n1 0 50\n2 1 7\n")  # a gap is fine
    assert load_from_dir(tiny).n_entities == 51


def test_huge_relation_and_user_ids(tiny):
    (tiny / "kg_final.txt").write_text("0 0 6\n1 5 7\n")
    _raises(
        tiny, r"kg_final.txt:2: relation id 5 out of range \(expected < 2, the number listed in relation_list.txt\)"
    )
    (tiny / "relation_list.txt").unlink()
    (tiny / "kg_final.txt").write_text("0 0 6\n1 0 7\n2 123456789 7\n")
    _raises(tiny, r"kg_final.txt:3: relation id 123,456,789 is far beyond the 2 distinct relation ids")
    (tiny / "kg_final.txt").write_text(FILES["kg_final.txt"])
    (tiny / "user_list.txt").unlink()
    (tiny / "train.txt").write_text("0 0 1 2\n1 2 3 5\n2 4 5 0\n999999999 1 2\n")
    _raises(tiny, r"train.txt:4: user id 999,999,999 is far beyond the 4 distinct user ids")


# ----------------------------------------------------------------------------- pinned sha256
@pytest.fixture()
def pinned(tiny, monkeypatch):
    """``tiny`` registered with every file pinned to its sha256 (as the real datasets are)."""
    files = tuple(
        registry.FileSpec(
            path=f,
            upstream_path=f,
            sha256=hashlib.sha256((tiny / f).read_bytes()).hexdigest(),
            repo="x/y",
            commit="0" * 40,
        )
        for f in FILES
    )
    monkeypatch.setitem(
        registry.REGISTRY, "tiny", registry.DatasetSpec(name="tiny", repo="x/y", commit="0" * 40, files=files)
    )
    monkeypatch.delenv("CIKGWB_STRICT_DATA", raising=False)
    return tiny


def test_pinned_files_verified_warn_or_fail(pinned, caplog):
    ds = load_dataset("tiny", data_dir=pinned.parent)
    assert "checksum_mismatch" not in ds.meta
    # a file cut short at a line end: parses, but is not the published file
    (pinned / "test.txt").write_text("0 3\n1 4\n")
    with caplog.at_level(logging.WARNING, logger="cikgwb.data.loader"):
        ds = load_dataset("tiny", data_dir=pinned.parent)
    assert len(ds.meta["checksum_mismatch"]) == 1 and "test.txt: sha256" in ds.meta["checksum_mismatch"][0]
    assert any("test.txt: sha256" in r.getMessage() and "is not the pinned" in r.getMessage() for r in caplog.records)
    with pytest.raises(DataFormatError, match=r"test.txt: sha256 .* is not the pinned .*cikgwb data fetch tiny"):
        load_dataset("tiny", data_dir=pinned.parent, strict=True)


def test_cli_stats_strict_and_clear_errors(pinned, monkeypatch, capsys, caplog):
    from cikgwb.cli import main

    d = str(pinned.parent)  # --json: the tiny data has too few users for four sparsity groups
    assert main(["data", "stats", "tiny", "--json", "--data-dir", d, "--strict"]) == 0
    (pinned / "train.txt").write_text("0 0 1 2\n1 2 3 5\n2 4 5\n")
    with caplog.at_level(logging.WARNING, logger="cikgwb.data.loader"):
        assert main(["data", "stats", "tiny", "--json", "--data-dir", d]) == 0  # a warning
    assert any("train.txt: sha256" in r.getMessage() and "is not the pinned" in r.getMessage() for r in caplog.records)
    assert main(["data", "stats", "tiny", "--json", "--data-dir", d, "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cikgwb data: error: ") and "train.txt: sha256" in err and "\n" not in err
    # the environment (cikgwb train --strict sets it for the loader) does the same
    monkeypatch.setenv("CIKGWB_STRICT_DATA", "1")
    with pytest.raises(DataFormatError):
        load_dataset("tiny", data_dir=pinned.parent)
    monkeypatch.delenv("CIKGWB_STRICT_DATA")
    # bad files: one line, file named, no traceback; stats go on without the interest graph
    (pinned / "train.txt").unlink()
    (pinned / "train.txt").mkdir()
    assert main(["data", "stats", "tiny", "--json", "--data-dir", d]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cikgwb data: error: ") and "train.txt: is a folder" in err and "\n" not in err
    (pinned / "train.txt").rmdir()
    (pinned / "train.txt").write_text(FILES["train.txt"])
    (pinned / "user_interest_clustered.txt").unlink()
    assert main(["data", "stats", "tiny", "--json", "--data-dir", d]) == 0
    assert '"interests": 0' in capsys.readouterr().out


def test_real_files_match_their_pins(real_data_dir):
    from cikgwb.data.loader import check_pinned

    for name in ("book-crossing", "dbbook2014", "ml1m"):
        assert check_pinned(name, real_data_dir / name, strict=True) == []
