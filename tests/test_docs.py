"""The README and docs/: every relative link resolves (file and #anchor), every table row has its
header's number of cells (an unescaped `|` in a cell breaks a row), and the README keeps the facts
a new user needs (issue 36 item 12): activate the venv, JupyterLab, and a map from each notebook to
the paper's table or figure with the command that regenerates it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """``text`` without fenced blocks and code spans (no link or heading is read from code)."""
    return CODE.sub("``", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = CODE.sub(lambda m: m.group(0).strip("`"), heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings (a repeated one also as ``-1``, ``-2``, ...)."""
    seen: dict[str, int] = {}
    for line in FENCE.sub("", path.read_text()).splitlines():
        if m := re.match(r"#{1,6} (.+)", line):
            s = slug(m.group(1))
            seen[s] = seen.get(s, -1) + 1
            if seen[s]:
                seen[f"{s}-{seen[s]}"] = 0
    return set(seen)


def broken_links(path: Path) -> list[str]:
    """``"target: why"`` for each relative link of ``path`` that does not resolve."""
    bad = []
    for target in LINK.findall(_prose(path.read_text())):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.name}")
    return bad


def _cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


def bad_table_rows(path: Path) -> list[str]:
    """The table rows of ``path`` whose cell count differs from their header's."""
    bad, header = [], None
    for line in FENCE.sub("", path.read_text()).splitlines():
        if not line.startswith("|"):
            header = None
        elif header is None:
            header = _cells(line)
        elif _cells(line) != header:
            bad.append(line[:100])
    return bad


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(path):
    assert broken_links(path) == [], f"{path.relative_to(REPO)}: broken links"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_table_rows_have_their_headers_cells(path):
    assert bad_table_rows(path) == [], f"{path.relative_to(REPO)}: rows with another number of cells"


def test_the_checks_catch_what_they_look_for(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text(
        "# A `b` c!\n\n[ok](a.md#a-b-c) [gone](b.md) [no anchor](#nope) `[code](x.md)`\n\n"
        "| x | y |\n|---|---|\n| `p|q` | r |\n| s \\| t | u |\n"
    )
    assert broken_links(doc) == ["b.md: no such file", "#nope: no heading #nope in a.md"]
    assert bad_table_rows(doc) == ["| `p|q` | r |"]


def test_readme_tells_a_new_user_what_the_demo_does_not():
    """Issue 36 item 12: the venv activated, JupyterLab, and each notebook's paper part and command."""
    text = (REPO / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert ". .venv/bin/activate" in text and "jupyter lab" in text
    assert "docs/results.md" in text
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\d\d_\w+)` \|.*$", text, re.M)}
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
    assert notebooks and sorted(rows) == notebooks, "the README's notebook map lists every notebook"
    for name, row in rows.items():
        assert f"--only {name[:2]}" in row, f"the README's row for {name} gives no command that regenerates it"
    for part in ("Table 1", "Table 2", "Table 3", "Figure 3", "Figure 4", "Figure 5"):
        assert part in "".join(rows.values()), f"the README's notebook map names no notebook for {part}"
