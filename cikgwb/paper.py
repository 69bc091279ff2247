"""The paper's numbers (CIKGRec, Hu et al., AAAI 2025), in one place: Table 1 (every model on the
three datasets, the authors' protocol, Recall/NDCG@50/100), its row order, and Table 3 (the
ablations' R@100 / N@100 on the three datasets). Nothing here is computed; the tables and
figures that set our runs beside these (:mod:`cikgwb.results`, :mod:`cikgwb.reports`) read them.

A model added to the zoo gets its paper row with one line in ``PAPER_TABLE1`` (per dataset).
"""

from __future__ import annotations

HEADLINE = ("recall@50", "recall@100", "ndcg@50", "ndcg@100")
PAPER_TABLE1 = {
    # dataset -> model -> (R@50, R@100, N@50, N@100), the paper's Table 1 (authors' protocol)
    "dbbook2014": {"cikgrec": (0.4642, 0.5756, 0.2494, 0.2739), "lightgcn": (0.4214, None, 0.2230, None)},
    "book-crossing": {"cikgrec": (0.1791, 0.2455, 0.0889, 0.1041), "lightgcn": (0.1607, None, 0.0765, None)},
    "ml1m": {"cikgrec": (0.4250, 0.5718, 0.4162, 0.4609), "lightgcn": (0.4086, None, 0.3977, None)},
}
# Table 1 rows of the first five baselines (LightGCN's completed with R@100 / N@100)
_TABLE1_BASELINES_1 = {
    "dbbook2014": {
        "lightgcn": (0.4214, 0.5358, 0.2230, 0.2481),
        "sgl": (0.4258, 0.5249, 0.2350, 0.2567),
        "simgcl": (0.4280, 0.5369, 0.2376, 0.2610),
        "cke": (0.3419, 0.4448, 0.1832, 0.2060),
        "cfkg": (0.3586, 0.4559, 0.1627, 0.1816),
    },
    "book-crossing": {
        "lightgcn": (0.1607, 0.2246, 0.0765, 0.0911),
        "sgl": (0.1613, 0.2154, 0.0860, 0.0982),
        "simgcl": (0.1653, 0.2211, 0.0860, 0.0988),
        "cke": (0.1284, 0.1691, 0.0708, 0.0811),
        "cfkg": (0.1216, 0.1771, 0.0503, 0.0617),
    },
    "ml1m": {
        "lightgcn": (0.4086, 0.5574, 0.3977, 0.4432),
        "sgl": (0.4094, 0.5505, 0.4004, 0.4433),
        "simgcl": (0.4131, 0.5560, 0.4048, 0.4482),
        "cke": (0.3948, 0.5421, 0.3841, 0.4295),
        "cfkg": (0.3930, 0.5439, 0.3672, 0.4142),
    },
}
for _dataset, _rows in _TABLE1_BASELINES_1.items():
    PAPER_TABLE1.setdefault(_dataset, {}).update(_rows)
# Table 1 rows of the knowledge-aware GNN baselines KGAT, KGIN, KGCL, MCCLK, KGRec
_TABLE1_BASELINES_2 = {
    "dbbook2014": {
        "kgat": (0.4174, 0.5309, 0.2110, 0.2360),
        "kgin": (0.4147, 0.5337, 0.2200, 0.2462),
        "kgcl": (0.4308, 0.5271, 0.2453, 0.2666),
        "mcclk": (0.4376, 0.5491, 0.2054, 0.2273),
        "kgrec": (0.4415, 0.5497, 0.2373, 0.2611),
    },
    "book-crossing": {
        "kgat": (0.1564, 0.2133, 0.0865, 0.1004),
        "kgin": (0.1468, 0.2075, 0.0681, 0.0819),
        "kgcl": (0.1562, 0.2049, 0.0859, 0.0971),
        "mcclk": (0.1476, 0.2039, 0.0656, 0.0774),
        "kgrec": (0.1473, 0.2075, 0.0699, 0.0836),
    },
    "ml1m": {
        "kgat": (0.4059, 0.5527, 0.3928, 0.4378),
        "kgin": (0.4095, 0.5581, 0.4004, 0.4453),
        "kgcl": (0.4083, 0.5496, 0.3996, 0.4430),
        "mcclk": (0.4176, 0.5655, 0.3876, 0.4339),
        "kgrec": (0.4136, 0.5633, 0.4072, 0.4524),
    },
}
for _dataset, _rows in _TABLE1_BASELINES_2.items():
    PAPER_TABLE1.setdefault(_dataset, {}).update(_rows)
# the paper's row order of Table 1 (CIKGRec first, then the baselines as the paper lists them)
TABLE1_ORDER = ("cikgrec", *_TABLE1_BASELINES_1["book-crossing"], *_TABLE1_BASELINES_2["book-crossing"])


PAPER_TABLE3 = {
    # dataset -> variant -> (R@100, N@100), the paper's Table 3 (all three datasets)
    "dbbook2014": {
        "full": (0.5756, 0.2739),
        "w/o UIK": (0.5673, 0.2615),
        "w/o UIR": (0.5701, 0.2704),
        "w/o CL": (0.5732, 0.2659),
        "w/o DMR": (0.5712, 0.2709),
        "linear": (0.5733, 0.2716),
    },
    "book-crossing": {
        "full": (0.2455, 0.1041),
        "w/o UIK": (0.2330, 0.0991),
        "w/o UIR": (0.2081, 0.0843),
        "w/o CL": (0.2291, 0.0917),
        "w/o DMR": (0.2129, 0.0853),
        "linear": (0.2452, 0.1036),
    },
    "ml1m": {
        "full": (0.5718, 0.4609),
        "w/o UIK": (0.5662, 0.4527),
        "w/o UIR": (0.5713, 0.4601),
        "w/o CL": (0.5583, 0.4480),
        "w/o DMR": (0.5710, 0.4596),
        "linear": (0.5714, 0.4603),
    },
}
VARIANTS = tuple(PAPER_TABLE3["book-crossing"])

#: Figure 5 (book-crossing): the four hyper-parameters the paper varies one at a time, and the
#: values we sweep. The figure's axis values are not in the paper's text, so the values are ours:
#: each grid holds the authors' default (alpha 0.05, omega 0.65, lambda2 0.03, lambda3 0.01);
#: alpha covers the range the paper says it tested (0.05 to 0.15) plus one step each side ("around
#: 0.1 is beneficial"), omega its tested 0.35 to 0.95 ("can be quite large, even up to 0.95"),
#: lambda2 and lambda3 a factor 10 or more on each side of the default on a log scale ("avoid
#: extremes"; "a very high lambda3 leads to a significant decline": lambda3 = 1).
#: ``cikgwb sweep --preset figure5`` (``make figure5``) and ``09_sensitivity`` (full mode) read
#: it; 16 distinct runs per seed.
FIGURE5_GRID = {
    "alpha": [0.01, 0.05, 0.1, 0.15, 0.2],
    "omega": [0.35, 0.5, 0.65, 0.8, 0.95],
    "lambda2": [0.003, 0.01, 0.03, 0.1, 0.3],
    "lambda3": [0.001, 0.01, 0.1, 1.0],
}
