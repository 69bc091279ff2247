"""bf16 against fp32 on this CPU, at one thread (issue 34: would other arithmetic halve the step?).

    OMP_NUM_THREADS=1 python bench/bench_bf16.py

Times, in thread CPU seconds, a CSR product of book-crossing's CIKG size (N = 16,386 nodes,
204,958 non-zeros on a random pattern, d = 64) and the InfoNCE's dense product (B x d) @ (d x N)
with B = 512, with and without its exponential, in float32 and bfloat16. Without avx512_bf16 or
AMX (``torch.backends.cpu.get_cpu_capability()``), bf16 has no fast path.
"""

from __future__ import annotations

import time
import warnings

import torch

warnings.filterwarnings("ignore")
N, NNZ, D, B = 16386, 204958, 64, 512


def per_call_ms(f, reps: int) -> float:
    f()
    t0 = time.thread_time()
    for _ in range(reps):
        f()
    return (time.thread_time() - t0) / reps * 1e3


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    idx = torch.randint(0, N, (2, NNZ))
    A = torch.sparse_coo_tensor(idx, torch.rand(NNZ), (N, N)).coalesce().to_sparse_csr()
    x, q = torch.randn(N, D), torch.randn(B, D)
    for dt in (torch.float32, torch.bfloat16):
        Ad, xd, qd = A.to(dt), x.to(dt), q.to(dt)
        try:
            sp = f"{per_call_ms(lambda: torch.sparse.mm(Ad, xd), 20):7.2f} ms"
        except (NotImplementedError, RuntimeError) as e:
            sp = f"not implemented ({str(e).splitlines()[0][:70]})"
        de = per_call_ms(lambda: qd @ xd.T, 3)
        ex = per_call_ms(lambda: torch.exp(qd @ xd.T), 3)
        print(f"{str(dt):15s} sparse CSR mm {sp}   dense (B x d)@(d x N) {de:7.2f} ms   exp(dense) {ex:7.2f} ms")
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")


if __name__ == "__main__":
    main()
