"""`cikgwb.claims`: the paper's claims read from runs by fixed rules (reports/claims.md, README)."""

from __future__ import annotations

import json
import math

import pandas as pd

from cikgwb import claims as C


def _runs(tmp_path, rows):
    """A runs table as :func:`cikgwb.results.runs_table` gives it, each row's metrics.json written
    under tmp_path (``compare_runs`` reads them). rows: (dataset, model, variant, protocol, seed, r50, r100)."""
    out = []
    for k, (ds, model, variant, prot, seed, r50, r100) in enumerate(rows):
        d = tmp_path / f"{ds}-{model}-{variant.replace('/', '')}-{prot}-s{seed}-{k}"
        d.mkdir(parents=True)
        test = {"recall@50": r50, "ndcg@50": r50 / 2, "recall@100": r100, "ndcg@100": r100 / 2}
        (d / "metrics.json").write_text(
            json.dumps({"seed": seed, "dataset": ds, "protocol": prot, "model": model, "test": test})
        )
        out.append(
            {
                "dataset": ds,
                "model": model,
                "variant": variant,
                "protocol": prot,
                "views": "paper",
                "seed": seed,
                "converged": True,
                "finished_at": f"2026-01-01T00:00:{k:02d}",
                "path": str(d),
                **{f"test {m}": v for m, v in test.items()},
            }
        )
    return pd.DataFrame(out)


FULL = [("bc", "cikgrec", "full", "valid", s, 0.20 + 0.01 * s, 0.30 + 0.01 * s) for s in range(3)]  # std 0.01


def test_modules_and_schedule_read_against_the_noise_band(tmp_path):
    runs = _runs(
        tmp_path,
        FULL
        + [
            ("bc", "cikgrec", "w/o UIK", "valid", 0, 0.2, 0.25),  # full seed 0 = 0.30: +0.05 > band 0.02
            ("bc", "cikgrec", "w/o UIR", "valid", 0, 0.2, 0.29),  # +0.01: inside the band
            ("bc", "cikgrec", "w/o CL", "valid", 0, 0.2, 0.35),  # -0.05: the module hurts
            ("bc", "cikgrec", "linear", "valid", 0, 0.2, 0.29),
            ("bc", "cikgrec", "w/o DMR", "valid", 0, 0.2, 0.25),
        ],
    )
    assert math.isclose(C.noise_band(runs, "bc", "recall@100"), 0.02)
    t = C.claim_modules(runs, "bc")
    got = dict(zip(t["variant"], t["reading"]))
    assert got == {
        "w/o UIK": "helps",
        "w/o UIR": "no effect",
        "w/o CL": "hurts",
        "w/o DMR": "helps",
        "linear": "no effect",
    }
    row = t.set_index("variant").loc["w/o UIK"]
    assert row["seeds"] == "0" and row["full R@100"] == 0.30 and math.isclose(row["full - variant R@100"], 0.05)
    assert C.modules_verdict(t) == "partly: UIK help(s) beyond the noise band, CL, UIR not"
    none_yet = t[t["variant"] == "w/o UIK"].assign(reading="no effect")
    assert C.modules_verdict(none_yet) == "waiting: no module beyond the noise band so far; missing: CL, UIR"
    assert C.modules_verdict(t.assign(reading="no effect")).startswith("not supported")
    # exp - lin = 0.01 is inside the band: the ordering is not supported
    assert C.schedule_verdict(t).startswith("not supported (R@100 exp - lin +0.0100, lin - fixed +0.0400")
    steps = _runs(
        tmp_path / "b",
        FULL
        + [("bc", "cikgrec", "linear", "valid", 0, 0.2, 0.27), ("bc", "cikgrec", "w/o DMR", "valid", 0, 0.2, 0.24)],
    )
    assert C.schedule_verdict(C.claim_modules(steps, "bc")).startswith("supported")
    # two seeds of the full model give no noise estimate, and no verdict is made up
    two = _runs(tmp_path / "c", FULL[:2] + [("bc", "cikgrec", "w/o UIK", "valid", 0, 0.2, 0.1)])
    assert set(C.claim_modules(two, "bc")["reading"]) == {"no noise estimate"}
    assert C.modules_verdict(C.claim_modules(two, "bc")).startswith("undecided: no noise estimate")


def test_module_effect_beyond_the_band_also_tested_over_seeds(tmp_path):
    """From 3 common seeds a difference beyond the band must also hold over seeds (paired t)."""
    steady = [("bc", "cikgrec", "w/o UIK", "valid", s, 0.2, 0.27 + 0.01 * s) for s in range(3)]  # -0.03 each seed
    erratic = [
        ("bc", "cikgrec", "w/o CL", "valid", s, 0.2, r) for s, r in enumerate((0.21, 0.31, 0.26))
    ]  # -0.09, 0, -0.06
    t = C.claim_modules(_runs(tmp_path, FULL + steady + erratic), "bc").set_index("variant")
    assert t.loc["w/o UIK", "reading"] == "helps" and t.loc["w/o UIK", "seeds"] == "0,1,2"
    # the mean difference (0.05) is beyond the band (0.02) but p(t) over the 3 seeds is about 0.2
    assert math.isclose(t.loc["w/o CL", "full - variant R@100"], 0.05)
    assert t.loc["w/o CL", "reading"] == C.UNCLEAR
    assert 0.1 < float(t.loc["w/o CL", "p over seeds R@100 / N@100"].split(" / ")[0]) < 0.3
    verdict = C.modules_verdict(t.reset_index())
    assert verdict == f"partly: UIK help(s) beyond the noise band; CL {C.UNCLEAR}; missing: UIR"
    only = C.modules_verdict(t.reset_index().query("variant == 'w/o CL'"))
    assert only == f"undecided: CL {C.UNCLEAR}; missing: UIK, UIR"


def test_baselines_verdict_from_paired_tests(tmp_path):
    rows = FULL + [("bc", "lightgcn", "-", "valid", s, v, v + 0.1) for s, v in enumerate([0.15, 0.17, 0.16])]
    runs = _runs(tmp_path, rows + [("bc", "sgl", "-", "valid", 0, 0.18, 0.28)])
    sides = C.headline_runs(runs, "bc")
    assert list(sides) == ["cikgrec", "lightgcn", "sgl"] and len(sides["cikgrec"]) == 3
    table, verdict = C.claim_baselines(runs, "bc")
    # LightGCN: 3 paired seeds, CIKGRec ahead by ~0.05; SGL: one seed, no test of any kind yet
    assert verdict.startswith("undecided (against lightgcn: ahead over seeds; against sgl: no test yet")
    assert set(table["rival"]) == {"lightgcn"} and (table["test"] == "over seeds").all()
    more = _runs(tmp_path / "b", rows + [("bc", "sgl", "-", "valid", s, 0.18, 0.28) for s in range(3)])
    assert C.claim_baselines(more, "bc")[1].startswith("supported (against lightgcn: ahead over seeds;")
    # a rival ahead at p < 0.05 makes the claim fail
    worse = _runs(tmp_path / "c", rows + [("bc", "sgl", "-", "valid", s, 0.30 + 0.001 * s, 0.4) for s in range(3)])
    assert C.claim_baselines(worse, "bc")[1].startswith("not supported (")


def test_figure5_readings():
    band = 0.004
    assert C._fig5_reading("alpha", {0.01: 0.160, 0.05: 0.165, 0.1: 0.168, 0.2: 0.161}, band, False) == "supported"
    assert C._fig5_reading("alpha", {0.01: 0.170, 0.05: 0.165, 0.1: 0.160}, band, False) == "not supported"
    assert C._fig5_reading("alpha", {0.01: 0.166, 0.05: 0.165, 0.1: 0.167}, band, True).startswith("partial, flat")
    assert C._fig5_reading("alpha", {0.01: 0.16, 0.05: 0.17}, band, True) == "waiting: 2 point(s) have finished"
    assert C._fig5_reading("omega", {0.5: 0.17, 0.8: 0.168, 0.95: 0.167}, band, False).startswith("supported")
    assert C._fig5_reading("omega", {0.5: 0.17, 0.8: 0.168, 0.95: 0.16}, band, False).startswith("not supported")
    lam3 = C._fig5_reading("lambda3", {0.001: 0.16, 0.01: 0.17, 0.1: 0.165, 1.0: 0.12}, band, False)
    assert lam3 == "supported: best inside the grid; the largest value (1) is below the best by more than the band"
    assert C._fig5_reading("lambda2", {0.003: 0.17, 0.03: 0.16, 0.3: 0.15}, band, False).startswith("not supported")
    assert C._fig5_reading("lambda2", {0.003: 0.17, 0.03: 0.16, 0.3: 0.15}, math.nan, False) == "no noise estimate"


def test_report_and_readme_block(tmp_path):
    runs = _runs(tmp_path, FULL + [("bc", "cikgrec", "w/o UIK", "valid", 0, 0.2, 0.25)])
    short = C.claims_markdown(runs, None, datasets=("bc",), summary=True)
    assert short.splitlines() == [
        "* CIKGRec beats every baseline, bc: undecided: no valid-protocol runs of CIKGRec and a baseline.",
        "* each module helps, bc (valid): partly: UIK help(s) beyond the noise band; missing: CL, UIR.",
        "* exponential > linear > fixed, bc (valid): undecided: the linear or fixed schedule has not run.",
        "* Figure 5: no sweep yet.",
    ]
    full = C.claims_markdown(runs, tmp_path / "no-sweep", datasets=("bc",))
    assert "## 1. CIKGRec beats every baseline" in full and "| w/o UIK " in full and "(no Figure 5 sweep yet)" in full


def test_readme_blocks_rewritten(tmp_path, monkeypatch):
    import importlib.util

    from cikgwb.paths import project_root

    spec = importlib.util.spec_from_file_location("readme_results", project_root() / "scripts" / "readme_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.delenv("CIKGWB_REPORTS_DIR", raising=False)
    (tmp_path / "reports" / "runs").mkdir(parents=True)
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- claims:begin -->\nold\n<!-- claims:end -->\nb\n")
    assert mod.main(readme, tmp_path) == 2  # no results block: nothing written
    assert "old" in readme.read_text() and not (tmp_path / "reports" / "claims.md").exists()
    readme.write_text(readme.read_text() + "<!-- results:begin -->\nold\n<!-- results:end -->\n")
    assert mod.main(readme, tmp_path) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith(
        "a\n<!-- claims:begin -->\n* CIKGRec beats every baseline, book-crossing"
    )
    assert "* Figure 5: no sweep yet.\n<!-- claims:end -->\nb\n" in text
    assert (tmp_path / "reports" / "claims.md").read_text().startswith("# The paper's claims under honest selection")
