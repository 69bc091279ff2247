"""The interest-graph comparison under the users protocol (issue 33): the committed reports are what
the script makes of the committed runs, and each question's verdict follows the Holm-adjusted
tests over seeds (a verdict needs three paired seeds and both tested metrics significant, one way)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("interest_comparison", REPO / "scripts" / "interest_comparison.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_users_comparisons_match_their_runs():
    mod = _script()
    for ds in mod.SIDES_USERS:
        md, js = mod.build(ds, REPO / "reports" / "runs", "users")
        fix = "stale: run `python scripts/interest_comparison.py --dataset all` (make reports) and commit it"
        assert (REPO / "reports" / "interests" / ds / "comparison-users.md").read_text() == md, f"{ds} {fix}"
        assert (REPO / "reports" / "interests" / ds / "comparison-users.json").read_text() == js, f"{ds} {fix}"


def _row(metric, diff, p_holm):
    return {"metric": metric, "mean_diff": diff, "p_holm": p_holm}


def _res(a, b, seeds, seed_rows, user_rows=()):
    return {
        "tested": ["recall@50", "ndcg@50"],
        "tests": [{"a": a, "b": b, "seeds": seeds, "seed_rows": list(seed_rows), "user_rows": list(user_rows)}],
    }


def test_answers_need_three_paired_seeds_and_both_metrics():
    mod = _script()
    a, b = "(b) local LLM", "(d) none"
    line = lambda res: [x for x in mod.answers(res) if "small local LLM" in x][0]  # noqa: E731
    both = [_row("recall@50", 0.01, 0.001), _row("ndcg@50", 0.005, 0.01)]
    assert "(b) local LLM vs (d) none: yes." in line(_res(a, b, [0, 1, 2], both))
    assert "undecided: 2 paired seed(s)" in line(_res(a, b, [0, 1], both))
    one = [_row("recall@50", 0.01, 0.001), _row("ndcg@50", 0.005, 0.2)]
    assert "not shown" in line(_res(a, b, [0, 1, 2], one))
    behind = [_row("recall@50", -0.01, 0.001), _row("ndcg@50", -0.005, 0.01)]
    assert "no: it is behind" in line(_res(a, b, [0, 1, 2, 3], behind))
    mixed = [_row("recall@50", 0.01, 0.001), _row("ndcg@50", -0.005, 0.01)]
    assert "not shown" in line(_res(a, b, [0, 1, 2], mixed))
    users = [_row("recall@50", 0.002, 0.03)]
    assert "over users recall@50 +0.0020 (Holm p 0.03)" in line(_res(a, b, [0], both[:0], users))
    assert "no paired runs yet" in line(_res("(a) released gpt-3.5", b, [], []))
