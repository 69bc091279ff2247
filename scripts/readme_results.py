"""Rewrite the README's results block (between <!-- results:begin --> and <!-- results:end -->)
with the table of `cikgwb results`: every finished run on the real data beside the paper; and the
paper's claims read from those runs (`cikgwb.claims`): their verdicts in the README's claims block
(<!-- claims:begin --> ... <!-- claims:end -->), with the evidence in reports/claims.md."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cikgwb.claims import claims_report, figure5_folder  # noqa: E402
from cikgwb.paths import reports_root, runs_root  # noqa: E402
from cikgwb.results import REAL_DATASETS, results_markdown, runs_table  # noqa: E402


def main(readme: Path | None = None, root: Path | None = None) -> int:
    """Rewrite ``readme`` (default: the project's README.md) from the runs of the reports folder
    (``$CIKGWB_REPORTS_DIR`` or ``<root>/reports``, root default the project) and write its
    ``claims.md``."""
    readme = readme or Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    for block in ("results", "claims"):
        if f"<!-- {block}:begin -->" not in text or f"<!-- {block}:end -->" not in text:
            print(f"{readme}: no <!-- {block}:begin --> / <!-- {block}:end --> markers", file=sys.stderr)
            return 2
    runs = runs_table(runs_root(root))
    table = results_markdown(runs, list(REAL_DATASETS))
    figure5 = figure5_folder(root)
    report = reports_root(root) / "claims.md"
    claims_md, verdicts = claims_report(runs, figure5)
    report.write_text(claims_md)
    for block, body in (("results", table), ("claims", verdicts)):
        text = re.sub(
            rf"<!-- {block}:begin -->.*<!-- {block}:end -->",
            lambda _, body=body, block=block: f"<!-- {block}:begin -->\n{body}<!-- {block}:end -->",
            text,
            flags=re.S,
        )
    readme.write_text(text)
    print(f"{readme}: {max(table.count(chr(10)) - 2, 0)} rows, {verdicts.count(chr(10))} verdicts; {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
