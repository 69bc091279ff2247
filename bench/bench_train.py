"""Benchmark: seconds per CIKGRec training epoch and per full evaluation, ours vs a
reference-style step that propagates with ``torch_geometric.nn.LGConv(normalize=True)`` on
``edge_index`` (normalisation recomputed at every call, as the authors' code does).

Both use the same model, seed and inputs; the script first checks that they give the same
losses and gradients, then times them and prints the ratio and peak memory. It also times the
step with a free propagation (``A h`` replaced by ``h``, everything else unchanged): the floor
that no propagation can beat, so ``reference / free`` bounds the epoch-level ratio.

    python bench/bench_train.py --datasets book-crossing dbbook2014 [--device cuda] [--ref-batches 4]

The reference epoch is timed on ``--ref-batches`` batches and extrapolated to the epoch's
number of batches (labelled so in the output); ours is a full epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cikgwb.models.cikgrec as cikgrec_mod  # noqa: E402
from cikgwb.data import load_dataset  # noqa: E402
from cikgwb.evaluate import evaluate  # noqa: E402
from cikgwb.graph import lightgcn  # noqa: E402
from cikgwb.models import (
    build_model,  # noqa: E402
    default_config,  # noqa: E402
)
from cikgwb.train import PairSampler, machine_info, pick_device  # noqa: E402

_EI_CACHE: dict[int, torch.Tensor] = {}


def reference_lightgcn(A, x, n_layers, noise_eps=0.0, dropout=0.0, training=False, mean=True, rows=None):
    """LightGCN with LGConv(normalize=True) on edge_index: gcn_norm recomputed at every layer call."""
    from torch_geometric.nn import LGConv

    key = id(A)
    if key not in _EI_CACHE:  # the binary pattern of A as an edge list (the authors keep edge lists)
        coo = A.to_sparse_coo().coalesce()
        _EI_CACHE.clear()
        _EI_CACHE[key] = coo.indices()
    ei = _EI_CACHE[key]
    conv = LGConv(normalize=True)
    return lightgcn(
        A,
        x,
        n_layers,
        noise_eps=noise_eps,
        dropout=dropout,
        training=training,
        mean=mean,
        layer=lambda h: conv(h, ei),
        rows=rows,
    )


def free_lightgcn(A, x, n_layers, noise_eps=0.0, dropout=0.0, training=False, mean=True, rows=None):
    """LightGCN with ``A h`` replaced by ``h``: every other operation of the step (noise,
    dropout, the layer sum, and all the losses and updates downstream) keeps its shapes and
    costs. An epoch with it is what a step would cost with a free propagation: the floor that
    bounds the epoch-level ratio of any propagation (Amdahl). Not CIKGRec's maths."""
    return lightgcn(
        A, x, n_layers, noise_eps=noise_eps, dropout=dropout, training=training, mean=mean, layer=lambda h: h, rows=rows
    )


@contextlib.contextmanager
def swapped_propagation(fn):
    saved = cikgrec_mod.lightgcn
    cikgrec_mod.lightgcn = fn
    try:
        yield
    finally:
        cikgrec_mod.lightgcn = saved


def reference_propagation():
    return swapped_propagation(reference_lightgcn)


def peak_mem(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_same(ds, cfg, device, batch) -> dict:
    """Same seed, same batch: loss terms and embedding gradients of ours vs the reference."""
    out = {}
    res = []
    for ref in (False, True):
        torch.manual_seed(0)
        m = build_model("cikgrec", ds, cfg.model, ds.train, device)
        m.cfg.edge_dropout = 0.0  # same graph for both (dropout draws differ only by call order)
        ctx = reference_propagation() if ref else contextlib.nullcontext()
        with ctx:
            torch.manual_seed(1)
            terms = m.loss(*batch, epoch=0)
            terms["loss"].backward()
            with torch.no_grad():
                zu, zi = m.user_item_embeddings()
        res.append(({k: float(v) for k, v in terms.items()}, m.embedding.grad.clone(), zu, zi))
    (t0, g0, u0, i0), (t1, g1, u1, i1) = res
    out["loss_terms_ours"] = t0
    out["loss_terms_reference"] = t1
    out["max_abs_diff_loss"] = max(abs(t0[k] - t1[k]) for k in t0)
    out["max_abs_diff_grad"] = float((g0 - g1).abs().max())
    out["max_abs_diff_embeddings"] = float(max((u0 - u1).abs().max(), (i0 - i1).abs().max()))
    return out


def time_epoch(model, opt, sampler, gen, device, max_batches=None):
    sync(device)
    t0 = time.perf_counter()
    n = 0
    for users, pos, neg in sampler.epoch(gen):
        loss = model.loss(users, pos, neg, 0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += 1
        if max_batches and n >= max_batches:
            break
    model.after_epoch(0, gen)
    sync(device)
    dt = time.perf_counter() - t0
    return dt if not max_batches else dt / n * len(sampler)


def time_eval(model, ds, device):
    model.eval()
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        evaluate(model.score_fn(), ds.matrix("valid"), ds.matrix("train"), device=device)
    sync(device)
    model.train()
    return time.perf_counter() - t0


def time_propagation(model, device, repeats: int = 5) -> dict:
    """Forward + backward of the CIKG propagation alone (the main graph, the model's layers),
    ours vs the reference, alternated so that both see the same machine load: the part of the
    step that the implementations differ in. The rest of a CIKGRec step (InfoNCE over all users
    and all item/entity nodes, BPR, TransE, Adam) is the same code in both and bounds the
    epoch-level ratio."""
    A, n_layers = model.A, model.cfg.n_layers
    x = model.embedding.detach().clone().requires_grad_(True)
    times = {"ours": [], "reference": []}
    for _ in range(repeats):
        for kind in ("ours", "reference"):
            fn = lightgcn if kind == "ours" else reference_lightgcn
            x.grad = None
            sync(device)
            t0 = time.perf_counter()
            fn(A, x, n_layers, mean=True).pow(2).sum().backward()
            sync(device)
            times[kind].append(time.perf_counter() - t0)
    ours, ref = float(np.median(times["ours"])), float(np.median(times["reference"]))
    return {
        "propagation_ours_s": ours,
        "propagation_reference_s": ref,
        "propagation_speedup": ref / ours,
        "propagation_note": f"median of {repeats}: forward + backward over the CIKG, {n_layers} layers",
    }


def time_infonce(B: int = 1024, N: int = 16386, d: int = 64, repeats: int = 7, device=None, blocks=(None,)) -> dict:
    """Forward + backward of one all-node InfoNCE term (B anchors against N candidates, d dims),
    median ms of ``repeats``: naive autograd (``F.cross_entropy`` on the B x N logits), the fused
    softmax-saving version it replaced, the tiled one in fp32 and with bf16 products; with
    the largest differences to the naive loss and gradients."""
    import torch.nn.functional as F

    from cikgwb.models import losses

    device = device or torch.device("cpu")
    g = torch.Generator().manual_seed(0)
    a0 = torch.randn(B, d, generator=g).to(device)
    c0 = torch.randn(N, d, generator=g).to(device)
    t = torch.randint(0, N, (B,), generator=g).to(device)
    tau = 0.15

    def naive(a, c):
        return F.cross_entropy(F.normalize(a, dim=-1) @ F.normalize(c, dim=-1).T / tau, t)

    kinds = {"naive autograd": naive, "fused (previous)": lambda a, c: losses.info_nce_fused(a, c, t, tau)}
    for blk in blocks:
        tag = f" block {blk}" if blk else ""
        kinds[f"tiled-keep fp32{tag}"] = lambda a, c, blk=blk: losses.info_nce(a, c, t, tau, block=blk, keep=True)
        kinds[f"tiled-keep bf16{tag}"] = lambda a, c, blk=blk: losses.info_nce(
            a, c, t, tau, precision="bf16", block=blk, keep=True
        )
        kinds[f"tiled-recompute fp32{tag}"] = lambda a, c, blk=blk: losses.info_nce(a, c, t, tau, block=blk, keep=False)
        kinds[f"tiled-recompute bf16{tag}"] = lambda a, c, blk=blk: losses.info_nce(
            a, c, t, tau, precision="bf16", block=blk, keep=False
        )
    res, times = {}, {k: [] for k in kinds}
    for r in range(repeats + 1):
        for k, fn in kinds.items():
            a = a0.clone().requires_grad_(True)
            c = c0.clone().requires_grad_(True)
            sync(device)
            t0 = time.perf_counter()
            loss = fn(a, c)
            loss.backward()
            sync(device)
            if r:  # the first round is a warm-up
                times[k].append(time.perf_counter() - t0)
            else:
                res[k] = (float(loss), a.grad, c.grad)
    l0, ga0, gc0 = res["naive autograd"]
    rows = {}
    for k in kinds:
        l, ga, gc = res[k]
        scale = max(float(ga0.abs().max()), float(gc0.abs().max()))
        rows[k] = {
            "ms": 1000 * float(np.median(times[k])),
            "min_ms": 1000 * float(np.min(times[k])),
            "loss_rel_diff": abs(l - l0) / abs(l0),
            "grad_max_diff_rel_to_max": max(float((ga - ga0).abs().max()), float((gc - gc0).abs().max())) / scale,
        }
    return {
        "B": B,
        "N": N,
        "d": d,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "kinds": rows,
    }


def compare_infonce_runs(epochs: int = 5, block: int = 64, precision: str = "fp32", data_dir=None) -> dict:
    """Same maths check of the tiled InfoNCE in training: two short CIKGRec runs on the synthetic
    data from the same seed on one thread, one with the previous fused InfoNCE, one with the
    tiled one (``block`` columns, so that the synthetic data's ~800 users and ~700 entities span
    several blocks; ``precision`` bf16 for the option's check). Returns the largest relative
    difference of each history entry (losses and valid metrics per epoch)."""
    import tempfile

    from cikgwb.models import losses
    from cikgwb.runs import run

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    hist = {}
    try:
        for kind in ("fused", "tiled"):
            cfg = default_config("synthetic", "cikgrec")
            cfg.train.max_epochs = epochs
            cfg.train.device = "cpu"
            ds = load_dataset("synthetic", data_dir=data_dir)
            if kind == "fused":
                fn = lambda a, c, t, tau, precision="fp32": losses.info_nce_fused(a, c, t, tau)  # noqa: E731
            else:
                cfg.model.precision = precision
                fn = lambda a, c, t, tau, precision="fp32": losses.info_nce(a, c, t, tau, precision, block=block)  # noqa: E731
            saved = cikgrec_mod.info_nce
            cikgrec_mod.info_nce = fn
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    os.environ["CIKGWB_CHECKPOINT_DIR"] = tmp + "/ck"
                    run(cfg, ds, progress=False, run_dir=Path(tmp) / "run")
                    hist[kind] = [json.loads(line) for line in (Path(tmp) / "run" / "history.jsonl").open()]
            finally:
                cikgrec_mod.info_nce = saved
    finally:
        torch.set_num_threads(n_threads)
    diffs: dict[str, float] = {}
    for ra, rb in zip(hist["fused"], hist["tiled"]):
        for k, va in ra.items():
            if k == "epoch" or "seconds" in k or not isinstance(va, (int, float)):
                continue
            d = abs(rb[k] - va) / max(abs(va), 1e-30)
            diffs[k] = max(diffs.get(k, 0.0), d)
    return {
        "epochs": len(hist["fused"]),
        "block": block,
        "precision": precision,
        "max_rel_diff": diffs,
        "fused_last": hist["fused"][-1],
        "tiled_last": hist["tiled"][-1],
    }


def profile_epoch(
    name: str, n_batches: int = 20, data_dir=None, out: Path | None = None, precision: str = "fp32"
) -> str:
    """What a CIKGRec training step is made of: ``n_batches`` batches of ``name`` under
    torch.profiler with labelled phases (the forward's propagations by call site, the InfoNCE,
    the edge-dropout draw and re-normalisation, BPR, the interest reconstruction; the backward by
    autograd node; the optimiser), plus one full evaluation; a markdown table of ms per batch and
    share, written to ``out/epoch-profile-<name>.md`` when ``out`` is given."""
    from torch.profiler import ProfilerActivity, profile, record_function

    ds = load_dataset(name, data_dir=data_dir)
    cfg = default_config(name, "cikgrec")
    cfg.model.precision = precision
    device = torch.device("cpu")
    sampler = PairSampler(ds.train, ds.n_items, cfg.train.batch_size, device)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    m = build_model("cikgrec", ds, cfg.model, ds.train, device)
    opt = torch.optim.Adam(m.parameters(), lr=cfg.train.lr)
    phase = ["?"]

    def labelled(fn, label):
        def wrapper(*a, **k):
            with record_function(label() if callable(label) else label):
                return fn(*a, **k)

        return wrapper

    def in_phase(fn, ph):
        def wrapper(*a, **k):
            saved, phase[0] = phase[0], ph
            try:
                return fn(*a, **k)
            finally:
                phase[0] = saved

        return wrapper

    mod_patches = {
        "lightgcn": lambda: f"fwd: propagation, {phase[0]}",
        "info_nce": "fwd: InfoNCE (2 terms)",
        "bpr_loss": "fwd: BPR + L2",
        "sce_loss": "fwd: interest reconstruction, SCE",
    }
    dropout_label = "fwd: edge dropout (draw and re-normalisation)"
    saved_mod = {k: getattr(cikgrec_mod, k) for k in mod_patches}
    for k, label in mod_patches.items():
        setattr(cikgrec_mod, k, labelled(saved_mod[k], label))
    for attr in ("main_dropout", "uir_dropout"):
        if getattr(m, attr, None) is not None:
            setattr(m, attr, labelled(getattr(m, attr), dropout_label))
    m.propagate = in_phase(m.propagate, "main graph (BPR)")
    m.interest_reconstruction = in_phase(m.interest_reconstruction, "interest reconstruction (enc + dec)")
    m.contrast = in_phase(m.contrast, "contrast views v1 v2 v3")
    batches = []
    for i, b in enumerate(sampler.epoch(gen)):
        batches.append(b)
        if len(batches) >= n_batches + 2:
            break
    try:
        for users, pos, neg in batches[:2]:  # warm-up
            loss = m.loss(users, pos, neg, 0)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for users, pos, neg in batches[2:]:
                with record_function("step: forward"):
                    loss = m.loss(users, pos, neg, 0)["loss"]
                with record_function("step: backward"):
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                with record_function("step: optimiser (Adam)"):
                    opt.step()
        wall = time.perf_counter() - t0
    finally:
        for k, f in saved_mod.items():
            setattr(cikgrec_mod, k, f)
    n = len(batches) - 2
    tot = {e.key: e.cpu_time_total / 1000 / n for e in prof.key_averages()}  # ms per batch
    fwd, bwd, optim = tot["step: forward"], tot["step: backward"], tot["step: optimiser (Adam)"]
    rows = []
    fwd_labels = sorted(
        {(lab() if callable(lab) else lab) for lab in mod_patches.values()}
        | {k for k in tot if k.startswith("fwd: propagation")}
        | {dropout_label}
    )
    named = 0.0
    for k in fwd_labels:
        if k in tot:
            rows.append((k, tot[k]))
            named += tot[k]
    rows.append(("fwd: the rest (gathers, masking, chi, sums, loss terms)", fwd - named))
    bwd_groups = {
        "_SymSpMMBackward": "bwd: propagations (A g)",
        "_RowsSpMMBackward": "bwd: propagations, last layers' rows (A[rows]^T g)",
        "_TiledLogSumExpMatmulBackward": "bwd: InfoNCE normaliser (tiled)",
        "_LogSumExpMatmulBackward": "bwd: InfoNCE normaliser (fused)",
    }
    named = 0.0
    other_bwd = []
    for k, v in tot.items():
        if k.startswith("autograd::engine::evaluate_function: "):
            node = k.split(": ", 1)[1]
            hit = next((lab for pre, lab in bwd_groups.items() if node.startswith(pre)), None)
            if hit:
                rows.append((hit, v))
                named += v
            else:
                other_bwd.append((node, v))
    other_bwd.sort(key=lambda x: -x[1])
    top = ", ".join(f"{k} {v:.1f}" for k, v in other_bwd[:5])
    rows.append((f"bwd: the rest (largest: {top})", bwd - named))
    rows.append(("optimiser (Adam step)", optim))
    step = fwd + bwd + optim
    m.eval()
    t1 = time.perf_counter()
    with torch.no_grad():
        evaluate(m.score_fn(), ds.matrix("valid"), ds.matrix("train"), device=device)
    ev = time.perf_counter() - t1
    m.train()
    info = machine_info(device)
    lines = [
        f"# What a CIKGRec training epoch is made of: {name}",
        "",
        f"torch.profiler over {n} batches (after 2 warm-up batches) of the dataset's default CIKGRec settings "
        f"(valid protocol, paper views, precision {precision}), {info['torch_threads']} torch threads, "
        f"CPU {info['cpu']}, torch {info['torch']}, {time.strftime('%Y-%m-%d %H:%M %Z')}, commit of the tree: "
        f"see git log. Profiled wall time {1000 * wall / n:.0f} ms per batch "
        f"(profiler overhead included); {len(sampler)} batches per epoch. Load average {load0:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs (the profiler's times are wall times: "
        "a loaded machine inflates them; the shares are the useful part).",
        "",
        "| part of the step | ms per batch | share of the step |",
        "|---|---:|---:|",
    ]
    for k, v in rows:
        lines.append(f"| {k} | {v:.1f} | {100 * v / step:.1f}% |")
    lines.append(
        f"| **step total** (forward {fwd:.1f} + backward {bwd:.1f} + optimiser {optim:.1f}) | **{step:.1f}** | 100% |"
    )
    lines += [
        "",
        f"Per epoch: {len(sampler)} x {step:.0f} ms = {len(sampler) * step / 1000:.1f} s of steps, plus one "
        f"full validation evaluation {ev:.2f} s (not part of `epoch_seconds`).",
        "",
        f"Inside the forward propagations: the sparse products themselves (`_SymSpMM`, `_RowsSpMM`) "
        f"{tot.get('_SymSpMM', 0) + tot.get('_RowsSpMM', 0):.1f} ms per batch; the rest is the SimGCL noise of "
        f"view v1 (its uniform draws, `aten::uniform_` with the edge dropout's: {tot.get('aten::uniform_', 0):.1f} ms), "
        "the layer sums and the last layers' row gathers. The per-product table (each product in the step "
        f"against the same product alone) is `products-{name}.md` (`bench/bench_products.py`).",
        "",
    ]
    text = "\n".join(lines)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"epoch-profile-{name}.md").write_text(text)
    return text


def bench(name: str, device, ref_batches: int, skip_ref: bool, data_dir=None) -> dict:
    ds = load_dataset(name, data_dir=data_dir)
    cfg = default_config(name, "cikgrec")
    sampler = PairSampler(ds.train, ds.n_items, cfg.train.batch_size, device)
    gen = torch.Generator().manual_seed(0)
    batch = next(sampler.epoch(gen))
    row = {"dataset": name, "device": str(device), "batches_per_epoch": len(sampler)}
    row.update(check_same(ds, cfg, device, batch))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    m = build_model("cikgrec", ds, cfg.model, ds.train, device)
    opt = torch.optim.Adam(m.parameters(), lr=cfg.train.lr)
    time_epoch(m, opt, sampler, gen, device, max_batches=2)  # warm-up
    row["ours_epoch_s"] = time_epoch(m, opt, sampler, gen, device)
    m.cfg.precision = "bf16"  # the option: the InfoNCE's products in bfloat16 (not the paper's maths)
    row["ours_epoch_bf16_s"] = time_epoch(m, opt, sampler, gen, device)
    m.cfg.precision = "fp32"
    row["ours_eval_s"] = time_eval(m, ds, device)
    row["ours_peak_mem_gib"] = peak_mem(device)
    row.update(time_propagation(m, device))
    if not skip_ref:
        with reference_propagation():
            row["reference_epoch_s"] = time_epoch(m, opt, sampler, gen, device, max_batches=ref_batches)
            row["reference_epoch_note"] = f"extrapolated from {ref_batches} batches to {len(sampler)}"
            row["reference_eval_s"] = time_eval(m, ds, device)
        row["epoch_speedup"] = row["reference_epoch_s"] / row["ours_epoch_s"]
        with swapped_propagation(free_lightgcn):
            row["free_propagation_epoch_s"] = time_epoch(m, opt, sampler, gen, device)
        # no propagation can make the epoch faster than that: the most any could gain over the reference
        row["epoch_speedup_bound"] = row["reference_epoch_s"] / row["free_propagation_epoch_s"]
        row["eval_speedup"] = row["reference_eval_s"] / row["ours_eval_s"]
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["book-crossing", "dbbook2014"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ref-batches", type=int, default=4)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="reports/bench")
    ap.add_argument(
        "--infonce",
        action="store_true",
        help="only the InfoNCE micro-bench (B=1024, N=16,386, d=64): naive, fused, tiled fp32 / bf16",
    )
    ap.add_argument("--repeats", type=int, default=7, help="--infonce: timed rounds")
    ap.add_argument(
        "--compare-infonce",
        action="store_true",
        help="only the same-maths check: 5-epoch synthetic runs, fused vs tiled InfoNCE (and bf16)",
    )
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="BATCHES",
        help="only profile BATCHES batches of each dataset (torch.profiler): reports/bench/epoch-profile-<dataset>.md",
    )
    args = ap.parse_args()
    if args.infonce:
        r = time_infonce(blocks=(None,), device=pick_device(args.device), repeats=args.repeats)
        print(
            f"InfoNCE forward + backward, B={r['B']} N={r['N']} d={r['d']}, {r['device']}, {r['threads']} threads, "
            f"{r['repeats']} rounds (all kinds in turn): median and minimum (the minimum is what a quiet moment gives)"
        )
        for k, v in r["kinds"].items():
            print(
                f"{k:<24} median {v['ms']:7.1f} ms  min {v['min_ms']:7.1f} ms  loss rel. diff {v['loss_rel_diff']:.1e}  "
                f"grad max diff / max grad {v['grad_max_diff_rel_to_max']:.1e}"
            )
        return 0
    if args.compare_infonce:
        for prec in ("fp32", "bf16"):
            r = compare_infonce_runs(precision=prec, data_dir=args.data_dir)
            worst = {k: v for k, v in r["max_rel_diff"].items()}
            print(
                f"{prec}: {r['epochs']} epochs, block {r['block']}: largest relative difference per history entry: "
                + json.dumps({k: float(f"{v:.2e}") for k, v in worst.items()})
            )
        return 0
    if args.profile:
        for name in args.datasets:
            print(profile_epoch(name, args.profile, args.data_dir, Path(args.out)), flush=True)
        return 0
    device = pick_device(args.device)
    rows = []
    for name in args.datasets:
        row = bench(name, device, args.ref_batches, args.skip_reference, args.data_dir)
        rows.append(row)
        print(
            json.dumps(
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if not isinstance(v, dict)}
            ),
            flush=True,
        )
    info = {**machine_info(device), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    print("\nCIKGRec per-epoch and evaluation seconds (authors' hyper-parameters, valid split)")
    print(
        f"{'dataset':<14} {'ours/epoch':>11} {'ref/epoch':>10} {'x':>6} {'ours/eval':>10} {'ref/eval':>9} {'peak GiB':>9}  same maths"
    )
    for r in rows:
        print(
            f"{r['dataset']:<14} {r['ours_epoch_s']:>11.2f} {r.get('reference_epoch_s', float('nan')):>10.2f} "
            f"{r.get('epoch_speedup', float('nan')):>6.1f} {r['ours_eval_s']:>10.3f} {r.get('reference_eval_s', float('nan')):>9.3f} "
            f"{r['ours_peak_mem_gib']:>9.2f}  loss diff {r['max_abs_diff_loss']:.1e}, grad diff {r['max_abs_diff_grad']:.1e}"
        )
    print("\nwith precision=bf16 (the InfoNCE's products in bfloat16; an option, not the paper's maths)")
    for r in rows:
        print(
            f"{r['dataset']:<14} {r['ours_epoch_bf16_s']:.2f} s per epoch vs {r['ours_epoch_s']:.2f} s in fp32 "
            f"(x{r['ours_epoch_s'] / r['ours_epoch_bf16_s']:.2f})"
        )
    print("\npropagation alone (forward + backward over the CIKG; the part the two steps differ in)")
    for r in rows:
        print(
            f"{r['dataset']:<14} ours {r['propagation_ours_s']:.3f} s  reference {r['propagation_reference_s']:.3f} s  "
            f"x{r['propagation_speedup']:.1f}"
        )
    if any("free_propagation_epoch_s" in r for r in rows):
        print("\nthe step with a free propagation (A h replaced by h; the rest unchanged): no propagation can beat it")
        for r in rows:
            if "free_propagation_epoch_s" in r:
                print(
                    f"{r['dataset']:<14} {r['free_propagation_epoch_s']:.2f} s per epoch: the epoch ratio over the "
                    f"reference is at most x{r['epoch_speedup_bound']:.1f} (ours: x{r['epoch_speedup']:.1f})"
                )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "gpu" if device.type == "cuda" else "cpu"
    (out / f"train-{tag}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
