"""Rewrite the README's results block (between <!-- results:begin --> and <!-- results:end -->)
with the table of `cikgwb results`: every finished run on the real data beside the paper."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cikgwb.paths import runs_root  # noqa: E402
from cikgwb.results import REAL_DATASETS, results_markdown, runs_table  # noqa: E402


def main() -> int:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    if "<!-- results:begin -->" not in text or "<!-- results:end -->" not in text:
        print(f"{readme}: no <!-- results:begin --> / <!-- results:end --> markers", file=sys.stderr)
        return 2
    table = results_markdown(runs_table(runs_root()), list(REAL_DATASETS))
    text = re.sub(
        r"<!-- results:begin -->.*<!-- results:end -->",
        lambda _: f"<!-- results:begin -->\n{table}<!-- results:end -->",
        text,
        flags=re.S,
    )
    readme.write_text(text)
    print(f"{readme}: {max(table.count(chr(10)) - 2, 0)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
