"""Token and cost ESTIMATES for a set of prompts.

No exact tokenizer is used: ``tiktoken`` downloads its encodings on first use, which this
workbench cannot rely on offline. Tokens are estimated as ``ceil(characters / 4)`` per message
plus 4 tokens of chat framing per message and 3 per request; for English text this is usually
within 10-20 % of the real count. Every figure computed here is labelled an estimate.

Prices come from ``cikgwb/knowledge/prices.yaml`` (per 1M tokens, dated; the Batch API at
``batch_discount`` of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRICES_FILE = Path(__file__).parent / "prices.yaml"
CHARS_PER_TOKEN = 4.0
METHOD = "ESTIMATE: ~4 characters per token (no exact tokenizer available offline)"
#: assumed length of a typical answer (five short comma-separated phrases)
TYPICAL_OUTPUT_TOKENS = 30


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """Estimated prompt tokens of one chat request (see the module docstring)."""
    return 3 + sum(4 + math.ceil(len(m.get("content", "")) / CHARS_PER_TOKEN) for m in messages)


def load_prices(path: str | Path = PRICES_FILE) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'models' table")
    for name, p in data["models"].items():
        if not isinstance(p, dict) or not {"input", "output"} <= set(p):
            raise ValueError(f"{path}: model {name!r} needs input and output prices per 1M tokens")
    return data


@dataclass
class CostEstimate:
    model: str
    requests: int
    input_tokens: int
    output_tokens_typical: int
    output_tokens_max: int
    chat_usd: float | None
    batch_usd: float | None
    chat_usd_max: float | None


def estimate_cost(
    prompts: list[list[dict[str, str]]],
    max_tokens: int,
    models: list[str] | None = None,
    prices: dict[str, Any] | None = None,
) -> list[CostEstimate]:
    """Per model: estimated tokens and USD for sending ``prompts`` (typical and worst case)."""
    prices = prices or load_prices()
    table = prices["models"]
    disc = float(prices.get("batch_discount", 1.0))
    tin = sum(estimate_tokens(p) for p in prompts)
    n = len(prompts)
    out = []
    for m in models or list(table):
        p = table.get(m)
        typ, mx = n * TYPICAL_OUTPUT_TOKENS, n * max_tokens
        if p is None:
            out.append(CostEstimate(m, n, tin, typ, mx, None, None, None))
            continue
        chat = (tin * p["input"] + typ * p["output"]) / 1e6
        chat_max = (tin * p["input"] + mx * p["output"]) / 1e6
        out.append(CostEstimate(m, n, tin, typ, mx, chat, chat * disc, chat_max))
    return out
