"""The command line guides (issue 36 item 11) and lives in one package (issue 35 move 3)."""

from __future__ import annotations

import argparse
import ast
import logging
from pathlib import Path

import pytest

from cikgwb.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def test_a_mistyped_command_gets_the_closest_one_and_no_internal_names(capsys):
    with pytest.raises(SystemExit) as e:
        main(["trian", "--dataset", "synthetic"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown command 'trian'; did you mean 'train'?" in err
    assert "argument cmd" not in err and "invalid choice" not in err
    with pytest.raises(SystemExit):
        main(["interests", "clustr"])
    assert "did you mean 'cluster'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["zzzz"])
    err = capsys.readouterr().err
    assert "unknown command 'zzzz'" in err and "did you mean" not in err


def test_a_mistyped_option_gets_the_closest_option_of_its_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--datset", "synthetic", "--protcol", "users"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--datset (did you mean --dataset?)" in err and "--protcol (did you mean --protocol?)" in err
    with pytest.raises(SystemExit):
        main(["results", "--runs-rot", "x"])  # the hidden old spelling is never suggested
    assert "(did you mean --runs?)" in capsys.readouterr().err


def test_verbose_before_or_after_the_command(capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.append(kw["level"]))
    parser = build_parser()
    for argv in (["-v", "results"], ["results", "-v"], ["graph", "stats", "-v"], ["results"]):
        assert parser.parse_args(argv).verbose is (argv != ["results"]), argv
    # the error handler reads it: with -v after the command the error is raised, not one line
    with pytest.raises(FileNotFoundError):
        main(["results", "--runs", "/nonexistent/runs", "-v"])
    assert main(["results", "--runs", "/nonexistent/runs"]) == 2
    assert seen == [logging.DEBUG, logging.WARNING]


def test_version_is_the_package_metadata(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"cikgwb {version('cikgwb')}"


def test_help_names_the_registries_choices_and_no_missing_command(capsys):
    from cikgwb.data.registry import names
    from cikgwb.models import model_names

    top = _help(capsys)
    assert "evaluate" not in top.split("options:")[0] and "COMMAND" in top and "cmd" not in top.split()
    with pytest.raises(SystemExit):  # no command of that name, and the description names none
        main(["evaluate"])
    assert "unknown command 'evaluate'" in capsys.readouterr().err
    train = " ".join(_help(capsys, "train").split())
    assert all(n in train for n in names()) and all(n in train for n in model_names())
    assert "--name NAME the run's name" in train
    interests = _help(capsys, "interests")
    assert all(c in interests for c in ("prompts", "infer", "report", "cluster", "name", "control"))
    for cmd in ("notebooks", "sweep", "compare"):  # written help, not the module docstrings
        text = _help(capsys, cmd)
        assert "``" not in text and ":mod:" not in text and ":func:" not in text, cmd
        assert f"cikgwb {cmd} " in text.split("options:")[0]  # an example


def _parsers(p: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                yield from _parsers(sp, (*path, name))


def test_every_command_has_the_same_style():
    """Every command and group: a written description, help on every option, -v and -h."""
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 25
    for path, p in parsers:
        assert p.description and "``" not in p.description, path
        for a in p._actions:
            if not isinstance(a, argparse._SubParsersAction):
                assert a.help, (path, a.option_strings or a.dest)
        assert {"-v", "-h"} <= set(p._option_string_actions), path


def test_a_group_without_its_command_prints_its_help(capsys):
    assert main(["interests"]) == 2
    assert "cluster" in capsys.readouterr().out
    assert main([]) == 2
    assert "train" in capsys.readouterr().out


def test_runs_folder_has_one_spelling_and_the_old_one_still_parses(capsys):
    parser = build_parser()
    for cmd in (["results"], ["compare", "a", "b"], ["graph", "screen"]):
        assert parser.parse_args([*cmd, "--runs", "R"]).runs_root == "R"
        assert parser.parse_args([*cmd, "--runs-root", "R"]).runs_root == "R"
    text = _help(capsys, "compare")
    assert "--runs DIR" in text and "--runs-root" not in text


def test_no_library_module_imports_argparse():
    """argparse lives in cikgwb/cli/ only (issue 35 move 3)."""
    offenders = []
    for path in sorted((ROOT / "cikgwb").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "cikgwb").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if "argparse" in names:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
