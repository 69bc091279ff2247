"""Each sparse product of a CIKGRec training step, in the step against alone, and the InfoNCE
against its floor (issue 34).

For every product of a step (forward and backward, by kind: which matrix, which layer, the
whole matrix or a last layer's rows) the script times the product where it happens in the step
and then, right after it and on the same matrix and input, the same product alone three times
(the median of those is its isolated cost: the same machine load, a warm cache), and the way
it was computed before (``torch.sparse.mm``, int64 indices) alone; after the step, each product
once more alone on a cold cache (64 MiB written before each repeat: its matrix and input out of
every cache level), the cost the step's products are to be judged by where the step last
touched their operands megabytes of work earlier (the last layer's rows). The InfoNCE's forward and
backward are set against their floor: the dense products of the same shapes (per column block,
``a @ c_j^T`` forward, ``p @ c_j`` and ``p^T @ (a w)`` backward) timed alone right after.

Times are the thread's CPU time (``time.thread_time``), which a loaded machine inflates less
than wall time; the load average is printed with them.

    OMP_NUM_THREADS=1 python bench/bench_products.py --datasets book-crossing dbbook2014 [--batches 6]

writes ``reports/bench/products-<dataset>.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cikgwb.graph as graph_mod  # noqa: E402
import cikgwb.models.losses as losses_mod  # noqa: E402
from cikgwb.data import load_dataset  # noqa: E402
from cikgwb.models import build_model, default_config  # noqa: E402
from cikgwb.train import PairSampler, machine_info  # noqa: E402

ISOLATED_REPEATS = 3
FLUSH_MIB = 64  # written before each cold repeat: twice the L3 cache of the machine measured (32 MiB)
_FLUSH = torch.zeros(FLUSH_MIB * 2**20 // 4)


def _ms(t0: float) -> float:
    return 1000 * (time.thread_time() - t0)


def _timed(fn, *a, **k) -> tuple[torch.Tensor, float]:
    t0 = time.thread_time()
    y = fn(*a, **k)
    return y, _ms(t0)


def _int64(A: torch.Tensor) -> torch.Tensor:
    return torch.sparse_csr_tensor(A.crow_indices().long(), A.col_indices().long(), A.values(), A.shape)


class Recorder:
    """Wraps the two product functions of ``cikgwb.graph`` and the tiled InfoNCE; a product's
    kind comes from the model's phase (main graph, contrast, reconstruction), the matrix (the
    views are told apart by identity) and whether it is a last layer's rows."""

    def __init__(self, model):
        self.m = model
        self.phase = "?"
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.lse: dict[str, list[float]] = defaultdict(list)
        self.names = {id(v): k for k, v in getattr(model, "views", {}).items()}
        self.names.update({id(v): k for k, v in getattr(model, "view_rows", {}).items()})
        self.saved = {}
        self.extra_ms = 0.0  # CPU ms of the repeats and floors, taken out of the step's time
        self.pending: list[tuple[dict, torch.Tensor, torch.Tensor]] = []  # timed cold after the step

    def kind(self, A, sub) -> str:
        who = self.names.get(id(sub if sub is not None else A))
        if self.phase == "contrast":
            if who is None:  # the batch's rows of v1
                who = "v1"
            return f"contrast view {who}, " + ("last layer's rows" if sub is not None else "a whole layer")
        return f"{self.phase}, " + ("last layer's rows" if sub is not None else "a whole layer")

    def measure(self, label: str, A: torch.Tensor, x: torch.Tensor, in_step_ms: float) -> None:
        t0 = time.thread_time()
        iso = [_timed(graph_mod.sparse_mm, A, x)[1] for _ in range(ISOLATED_REPEATS)]
        A64 = _int64(A)
        old = [_timed(torch.sparse.mm, A64, x)[1] for _ in range(ISOLATED_REPEATS)]
        row = {
            "in_step": in_step_ms,
            "isolated": float(np.median(iso)),
            "torch_sparse_mm": float(np.median(old)),
            "nnz": int(A._nnz()),
            "shape": tuple(A.shape),
        }
        self.rows[label].append(row)
        self.pending.append((row, A, x.detach()))
        self.extra_ms += _ms(t0)

    def measure_cold(self) -> None:
        """After the step (so that the flushes leave the step's own cache state alone): each of
        its products again, alone, after :data:`FLUSH_MIB` MiB were written (its matrix and
        operand out of every cache level), :data:`ISOLATED_REPEATS` times, median."""
        for row, A, x in self.pending:
            cold = []
            for _ in range(ISOLATED_REPEATS):
                _FLUSH.add_(1.0)
                cold.append(_timed(graph_mod.sparse_mm, A, x)[1])
            row["cold"] = float(np.median(cold))
        self.pending.clear()

    def install(self) -> None:
        rec = self
        S, R, L = graph_mod._SymSpMM, graph_mod._RowsSpMM, losses_mod._TiledLogSumExpMatmul
        self.saved = {(c, k): getattr(c, k) for c in (S, R, L) for k in ("forward", "backward")}

        def sym_fwd(ctx, A, x):
            y, ms = _timed(graph_mod.sparse_mm, A, x)
            ctx.A, ctx.label = A, "fwd: " + rec.kind(A, None)
            rec.measure(ctx.label, A, x, ms)
            return y

        def sym_bwd(ctx, g):
            g = g.contiguous()
            y, ms = _timed(graph_mod.sparse_mm, ctx.A, g)
            rec.measure(ctx.label.replace("fwd: ", "bwd: "), ctx.A, g, ms)
            return None, y

        def rows_fwd(ctx, sub, x):
            y, ms = _timed(graph_mod.sparse_mm, sub.A, x)
            ctx.sub, ctx.label = sub, "fwd: " + rec.kind(None, sub)
            rec.measure(ctx.label, sub.A, x, ms)
            return y

        def rows_bwd(ctx, g):
            g = g.contiguous()
            T, ms_t = _timed(ctx.sub.transposed)
            rec.lse["bwd: the last layers' transposed rows (made per batch)"].append(ms_t)
            y, ms = _timed(graph_mod.sparse_mm, T, g)
            rec.measure(ctx.label.replace("fwd: ", "bwd: "), T, g, ms)
            return None, y

        def lse_fwd(ctx, *a):
            y, ms = _timed(rec.saved[(L, "forward")], ctx, *a)
            rec.lse["InfoNCE normaliser, forward"].append(ms)
            t0 = time.thread_time()
            rec.lse["floor: forward GEMMs (a c_j^T)"].append(gemm_floor(a[0], a[1], a[2], backward=False))
            rec.lse["floor: exponentials of the logits (B x N)"].append(exp_floor(a[0], a[1], a[2]))
            rec.extra_ms += _ms(t0)
            return y

        def lse_bwd(ctx, g):
            out, ms = _timed(rec.saved[(L, "backward")], ctx, g)
            rec.lse["InfoNCE normaliser, backward"].append(ms)
            a, c = ctx.saved_tensors[:2]
            t0 = time.thread_time()
            rec.lse["floor: backward GEMMs (p c_j, p^T (a w))"].append(gemm_floor(a, c, ctx.block, backward=True))
            rec.extra_ms += _ms(t0)
            return out

        for cls, k, f in ((S, "forward", sym_fwd), (S, "backward", sym_bwd), (R, "forward", rows_fwd)):
            setattr(cls, k, staticmethod(f))
        R.backward = staticmethod(rows_bwd)
        L.forward, L.backward = staticmethod(lse_fwd), staticmethod(lse_bwd)
        for name, ph in (("propagate", "main graph"), ("contrast", "contrast"), ("interest_reconstruction", "uir")):
            setattr(self.m, name, self._in_phase(getattr(self.m, name), ph))

    def _in_phase(self, fn, ph):
        def wrapper(*a, **k):
            saved, self.phase = self.phase, {"uir": "interest reconstruction"}.get(ph, ph)
            try:
                return fn(*a, **k)
            finally:
                self.phase = saved

        return wrapper

    def uninstall(self) -> None:
        for (cls, k), f in self.saved.items():
            setattr(cls, k, staticmethod(f))


def gemm_floor(a: torch.Tensor, c: torch.Tensor, block: int, backward: bool) -> float:
    """CPU ms of the dense products of the tiled InfoNCE alone, on tensors of the same shapes:
    forward ``a @ c_j^T`` per block; backward ``p @ c_j`` and ``p^T @ (a w)``."""
    a, c = a.detach(), c.detach()
    total = 0.0
    for j in range(0, c.shape[0], block):
        cj = c[j : j + block]
        p, ms = _timed(torch.mm, a, cj.T)
        if backward:
            total += _timed(torch.mm, p, cj)[1] + _timed(torch.mm, p.T, a)[1]
        else:
            total += ms
    return total


def exp_floor(a: torch.Tensor, c: torch.Tensor, block: int) -> float:
    """CPU ms of one exponential per logit: ``exp`` of B x ``block`` blocks covering the N
    candidates, on values like the shifted logits' (uniform in [-2/tau, 0] for tau 0.15), the
    least the normaliser's arithmetic needs besides its products."""
    g = torch.Generator().manual_seed(0)
    s = torch.empty(a.shape[0], block).uniform_(-13.0, 0.0, generator=g)
    total = 0.0
    for j in range(0, c.shape[0], block):
        w = min(block, c.shape[0] - j)
        x = s if w == block else s[:, :w].contiguous()
        total += _timed(torch.exp, x, out=torch.empty_like(x))[1]
    return total


def other_floors(m, cfg) -> dict[str, float]:
    """CPU ms of the rest of the step's unavoidable work, alone, on tensors of the step's shapes:
    the uniform draws (view v1's SimGCL noise per layer, the edge-dropout draw; a generator of
    their own, so the step's random stream is untouched) and the reconstruction's linear map
    (its forward and two backward products)."""
    g = torch.Generator().manual_seed(0)
    N, d = m.embedding.shape
    draws = 0.0
    if getattr(m, "use_cl", False) and m.cfg.noise_eps > 0:
        draws += sum(_timed(torch.rand, N, d, generator=g)[1] for _ in range(m.cfg.n_layers))
    for attr, rate in (("main_dropout", m.cfg.edge_dropout), ("uir_dropout", m.cfg.uir_edge_drop)):
        if getattr(m, attr, None) is not None and rate > 0:
            draws += _timed(torch.rand, len(getattr(m, attr).edges), generator=g)[1]
    out = {"uniform draws (SimGCL noise of v1, edge dropout)": draws}
    if getattr(m, "use_uir", False):
        x, w = m.embedding.detach(), m.chi.weight.detach()
        out["the reconstruction's linear map (3 dense products)"] = (
            _timed(torch.mm, x, w.T)[1] + _timed(torch.mm, x, w)[1] + _timed(torch.mm, x.T, x)[1]
        )
    return out


def run(name: str, n_batches: int, out: Path | None) -> str:
    ds = load_dataset(name)
    cfg = default_config(name, "cikgrec")
    dev = torch.device("cpu")
    sampler = PairSampler(ds.train, ds.n_items, cfg.train.batch_size, dev)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    m = build_model("cikgrec", ds, cfg.model, ds.train, dev)
    opt = torch.optim.Adam(m.main_parameters(), lr=cfg.train.lr)
    rec = Recorder(m)
    steps: list[float] = []
    adam: list[float] = []
    floors: dict[str, list[float]] = defaultdict(list)
    loads = [os.getloadavg()[0]]
    for i, (users, pos, neg) in enumerate(sampler.epoch(gen)):
        if i == 2:  # two warm-up batches, then the instrumented ones
            rec.install()
        t0, rec.extra_ms = time.thread_time(), 0.0
        loss = m.loss(users, pos, neg, 0)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t1 = time.thread_time()
        opt.step()
        if i >= 2:
            steps.append(_ms(t0) - rec.extra_ms)
            adam.append(_ms(t1))
            for k, v in other_floors(m, cfg).items():
                floors[k].append(v)
            rec.measure_cold()
        if i >= n_batches + 1:
            break
    rec.uninstall()
    loads.append(os.getloadavg()[0])
    floors["the Adam step (in the step)"] = adam
    return report(name, cfg, rec, steps, n_batches, loads, out, {k: float(np.median(v)) for k, v in floors.items()})


def _product_table(rec: Recorder, n_batches: int) -> tuple[list[str], dict[str, float]]:
    """One row per kind of product (medians over its calls) and the per-step sums of each column."""
    keys = ("in_step", "isolated", "cold", "torch_sparse_mm")
    lines, tot = [], dict.fromkeys(keys, 0.0)
    for label in sorted(rec.rows):
        rs = rec.rows[label]
        med = {k: float(np.median([r[k] for r in rs])) for k in keys}
        for k in keys:
            tot[k] += sum(r[k] for r in rs) / n_batches
        shapes = sorted({r["shape"] for r in rs})
        shape = f"{shapes[0][0]:,} x {shapes[0][1]:,}" + (" (varies)" if len(shapes) > 1 else "")
        nnz = int(np.median([r["nnz"] for r in rs]))
        i, s, c, o = (med[k] for k in keys)
        lines.append(
            f"| {label} | {len(rs) / n_batches:g} | {shape} | {nnz:,} | {i:.2f} | {s:.2f} | {i / s:.2f} | {c:.2f} | "
            f"{i / c:.2f} | {o:.2f} |"
        )
    return lines, tot


def _over_bound_note(rec: Recorder, n_batches: int, bound: float = 1.3) -> list[str]:
    """A line on the kinds above ``bound`` times their *alone* cost: how they compare with the
    same product on a cold cache, and how many ms of a step their excess over *alone* is."""
    cols = ("in_step", "isolated", "cold")
    med = {k: {c: float(np.median([r[c] for r in rs])) for c in cols} for k, rs in rec.rows.items()}
    over = sorted(k for k, m in med.items() if m["in_step"] > bound * m["isolated"])
    if not over:
        return [f"Every kind of product is within {bound}x of its cost alone.", ""]
    excess = sum((med[k]["in_step"] - med[k]["isolated"]) * len(rec.rows[k]) / n_batches for k in over)
    worst = max(med[k]["in_step"] / med[k]["cold"] for k in over)
    why = (
        f" (within {bound}x): *alone* repeats a product with its matrix and input in cache, which the step "
        "cannot give it (it last touched them megabytes of other work earlier)"
        if worst <= bound
        else ""
    )
    return [
        f"Above {bound}x of *alone*: {'; '.join(over)}. Against the same product with its matrix and input out "
        f"of every cache (*alone, cold*) they are at {worst:.2f}x or less{why}. Their excess over *alone*: {excess:.1f} ms of the step in all.",
        "",
    ]


def report(name, cfg, rec: Recorder, steps, n_batches, loads, out, floors: dict[str, float]) -> str:
    info = machine_info(torch.device("cpu"))
    lines = [
        f"# The sparse products of a CIKGRec step, in the step and alone: {name}",
        "",
        f"`bench/bench_products.py`, {time.strftime('%Y-%m-%d %H:%M %Z')}, {info['torch_threads']} torch thread(s), "
        f"CPU {info['cpu']} ({os.cpu_count()} CPUs), torch {info['torch']}; the dataset's default CIKGRec settings "
        f"(valid protocol, paper views, fp32), {n_batches} batches after 2 warm-up batches; load average "
        f"{min(loads):.1f}-{max(loads):.1f} (two single-thread training lanes and other work on the 2 cores). "
        "Thread CPU ms; medians over the calls. *in the step*: the product where the step makes it; *alone*: "
        f"the same product on the same matrix and input repeated right after it ({ISOLATED_REPEATS} times, "
        "median: its matrix and input in cache); *alone, cold*: the same again after the step, each repeat "
        f"after {FLUSH_MIB} MiB were written (matrix and input out of every cache level, twice this CPU's "
        "L3); *torch.sparse.mm*: the way it was made before the int32/beta=0 change (int64 indices, a "
        "zero-filled output copied into the result), alone, at the same moment.",
        "",
        "| product (fwd / bwd: kind) | per step | rows x cols | non-zeros | in the step | alone | ratio | "
        "alone, cold | in the step / cold | torch.sparse.mm alone |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    table, tot = _product_table(rec, n_batches)
    tot_in, tot_iso = tot["in_step"], tot["isolated"]
    step = float(np.median(steps))
    lines += table + [
        f"| **all products of a step** (sum) | | | | **{tot_in:.1f}** | **{tot_iso:.1f}** | "
        f"**{tot_in / tot_iso:.2f}** | **{tot['cold']:.1f}** | **{tot_in / tot['cold']:.2f}** | "
        f"**{tot['torch_sparse_mm']:.1f}** |",
        "",
        *_over_bound_note(rec, n_batches),
        "| the InfoNCE (both terms), per step | CPU ms |",
        "|---|---:|",
    ]
    for k in sorted(rec.lse):
        lines.append(f"| {k} | {sum(rec.lse[k]) / n_batches:.1f} |")
    fwd, bwd = (sum(rec.lse[f"InfoNCE normaliser, {d}"]) / n_batches for d in ("forward", "backward"))
    gemms = sum(sum(v) for k, v in rec.lse.items() if "GEMMs" in k) / n_batches
    exps = sum(rec.lse["floor: exponentials of the logits (B x N)"]) / n_batches
    floor_rows = {
        "the sparse products, each alone": tot_iso,
        "the InfoNCE's dense products, alone": gemms,
        "one exponential per InfoNCE logit (B x N), alone": exps,
        **floors,
    }
    floor = sum(floor_rows.values())
    lines += [
        "",
        f"Step (thread CPU, median of {len(steps)}, the repeats and floors taken out): {step:.0f} ms. Its sparse "
        f"products {tot_in:.0f} ms ({100 * tot_in / step:.0f}%), the InfoNCE normaliser {fwd + bwd:.0f} ms "
        f"({100 * (fwd + bwd) / step:.0f}%) against {gemms:.0f} ms for its dense products alone.",
        "",
        "The work that any implementation of the same arithmetic does (the same products, exponentials and "
        "random draws, in the same order: what keeps the golden histories bit for bit), each timed alone at "
        "the same moment, per step:",
        "",
        "| unavoidable work, per step | CPU ms | share of the step |",
        "|---|---:|---:|",
    ]
    for k, v in floor_rows.items():
        lines.append(f"| {k} | {v:.1f} | {100 * v / step:.0f}% |")
    lines += [
        f"| **sum: the floor of this step** | **{floor:.0f}** | **{100 * floor / step:.0f}%** |",
        "",
        f"Everything else (gathers, sums, normalisations and their backward, the losses, the re-normalisation of "
        f"the edge dropout, autograd) is {step - floor:.0f} ms of the {step:.0f} ms step.",
        "",
    ]
    text = "\n".join(lines)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"products-{name}.md").write_text(text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["book-crossing", "dbbook2014"])
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--out", default="reports/bench")
    a = ap.parse_args()
    for name in a.datasets:
        print(run(name, a.batches, Path(a.out) if a.out else None), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
