"""CIKGRec trains on an interest graph produced by the clustering pipeline (kg-summary answers)."""

from __future__ import annotations

import json

from cikgwb.knowledge.infer import infer_interests
from cikgwb.knowledge.interest_graph import build_interest_graph
from cikgwb.models import default_config
from cikgwb.train import Trainer


def test_cikgrec_trains_on_kg_summary_graph(synthetic_ds, tmp_path):
    answers = infer_interests(synthetic_ds, backend="kg-summary")
    graph = build_interest_graph(answers, dataset=synthetic_ds, encoder="tfidf", clusterer="kmeans", kappa=24, seed=0)
    out = tmp_path / "graph"
    graph.save(out)
    # a mask rate high enough that floor(p * J) > 0 for the few interests left after the filters
    cfg = default_config("synthetic", "cikgrec", device="cpu", max_epochs=3, mask_alpha=0.3)
    cfg.interests = str(out)
    t = Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / "run", progress=False)
    assert t.ds.n_interests == len(set(graph.edges[:, 1].tolist()))
    assert t.ds.n_interests != synthetic_ds.n_interests or not (t.ds.user_interest == synthetic_ds.user_interest).all()
    res = t.fit()
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "not an LLM" in m["interests"]
    assert res.history[-1]["loss_uir"] > 0 and m["valid"]["recall@50"] > 0.2
    # and with no interests at all (w/o UIK)
    cfg2 = default_config("synthetic", "cikgrec", device="cpu", max_epochs=1)
    cfg2.interests = "none"
    t2 = Trainer(cfg2, ds=synthetic_ds, run_dir=tmp_path / "run2", progress=False)
    assert t2.ds.n_interests == 0 or t2.cfg.model.no_interests
