"""Cluster interest phrases into kappa interest nodes with readable labels (docs/method.md 2, step 3).

Two clusterers over the distinct cleaned phrases:

``kmeans``   scikit-learn ``KMeans(n_clusters=kappa, random_state=seed)`` on the encoder's vectors
             (sparse tf-idf or normalised sentence embeddings); each distinct phrase is weighted by
             its number of occurrences (users holding it), which equals clustering every occurrence
             as the authors did, at a fraction of the cost.
``bertopic`` BERTopic with the embedding model passed in, seeded UMAP (cosine, 5 components,
             min_dist 0) and as its cluster model ``KMeans(kappa)`` when kappa is given, or HDBSCAN
             when kappa is ``None``, followed by outlier reduction (every outlier phrase goes to the
             topic whose c-TF-IDF-weighted embedding is most similar, BERTopic's ``"embeddings"``
             strategy) so every phrase ends in a node. With the tf-idf encoder BERTopic gets an
             LSA embedder (tf-idf -> TruncatedSVD -> L2 norm) so that UMAP works on dense vectors.

Labels. Keywords per cluster come from class-based TF-IDF (c-TF-IDF, as in BERTopic): for cluster
c and term t (1-2 grams of the member phrases, counted per occurrence),

    w(t, c) = tf(t, c) / sum_t' tf(t', c) * log(1 + A / f(t)),

with f(t) the frequency of t over all clusters and A the mean number of terms per cluster; or,
with ``representation="keybert"``, BERTopic's ``KeyBERTInspired`` (keywords re-ranked by the
similarity of their embedding to the cluster's representative phrases; unigram candidates, since
BERTopic joins a topic's phrases with spaces and its bigrams would span two phrases). The
c-TF-IDF keywords are computed here per phrase for both clusterers. With
``representation="phrases"`` the "keywords" are the cluster's own member phrases, most frequent
first, scored by their share of the cluster's occurrences: the label then quotes what the LLM said
(``sci fi / classic sci fi / dark sci fi``) instead of n-gram fragments (``fi / dark sci``), which
reads better when a small model answers with few distinct phrases; the label joins its three most
frequent phrases. Otherwise the readable label joins the top keywords (up to three, skipping a keyword whose words the earlier ones already hold).
Clusters are numbered by decreasing number of occurrences (interest 0 is the largest).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .encoders import SentenceEncoder, TfidfEncoder, make_encoder

CLUSTERERS = ("kmeans", "bertopic")
REPRESENTATIONS = ("ctfidf", "keybert", "phrases")
MIN_PHRASES_BERTOPIC = 8


class ClusteringError(ValueError):
    """The phrases cannot be clustered as asked (too few phrases, bad kappa, ...)."""


@dataclass
class Clustering:
    """Distinct phrases, their cluster, and each cluster's keywords and readable label."""

    phrases: list[str]  # distinct cleaned phrases
    counts: np.ndarray  # occurrences of each phrase (int64)
    assign: np.ndarray  # cluster id of each phrase, 0..n_clusters-1
    n_clusters: int
    keywords: list[list[tuple[str, float]]]  # per cluster, best first
    labels: list[str]  # per cluster
    info: dict[str, Any] = field(default_factory=dict)

    def phrase_to_cluster(self) -> dict[str, int]:
        return dict(zip(self.phrases, self.assign.tolist()))

    def members(self, j: int) -> list[tuple[str, int]]:
        """Member phrases of cluster ``j`` with their occurrence counts, most frequent first."""
        idx = np.flatnonzero(self.assign == j)
        order = sorted(idx.tolist(), key=lambda i: (-int(self.counts[i]), self.phrases[i]))
        return [(self.phrases[i], int(self.counts[i])) for i in order]


# ------------------------------------------------------------------------------------ labels
def ctfidf_keywords(
    phrases: Sequence[str],
    counts: np.ndarray,
    assign: np.ndarray,
    n_clusters: int,
    top_n: int = 10,
    ngram_range: tuple[int, int] = (1, 2),
) -> list[list[tuple[str, float]]]:
    """c-TF-IDF keywords per cluster (formula in the module docstring), best first."""
    from sklearn.feature_extraction.text import CountVectorizer

    cv = CountVectorizer(ngram_range=ngram_range, token_pattern=r"(?u)\b[a-z]+\b")
    try:
        X = cv.fit_transform(list(phrases))
    except ValueError:  # empty vocabulary
        return [[] for _ in range(n_clusters)]
    W = sp.csr_matrix(
        (np.asarray(counts, dtype=np.float64), (assign, np.arange(len(phrases)))), shape=(n_clusters, len(phrases))
    )
    C = (W @ X).tocsr()  # cluster x term counts
    f = np.asarray(C.sum(axis=0)).ravel()
    A = C.sum() / max(n_clusters, 1)
    idf = np.log1p(A / np.maximum(f, 1e-12))
    row = np.asarray(C.sum(axis=1)).ravel()
    S = sp.diags(1.0 / np.maximum(row, 1e-12)) @ C @ sp.diags(idf)
    S = S.tocsr()
    vocab = cv.get_feature_names_out()
    out = []
    for c in range(n_clusters):
        lo, hi = S.indptr[c], S.indptr[c + 1]
        cols, vals = S.indices[lo:hi], S.data[lo:hi]
        order = np.lexsort((cols, -vals))[:top_n]
        out.append([(str(vocab[cols[k]]), float(vals[k])) for k in order])
    return out


def phrase_keywords(
    counts: np.ndarray, assign: np.ndarray, n_clusters: int, phrases: Sequence[str], top_n: int = 10
) -> list[list[tuple[str, float]]]:
    """Each cluster's member phrases, most frequent first (ties by phrase), scored by their share
    of the cluster's occurrences (``representation="phrases"``)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = np.bincount(assign, weights=counts, minlength=n_clusters)
    order = np.lexsort((np.array(phrases, dtype=object).astype(str), -counts, assign))
    out: list[list[tuple[str, float]]] = [[] for _ in range(n_clusters)]
    for i in order:
        c = int(assign[i])
        if len(out[c]) < top_n:
            out[c].append((str(phrases[i]), float(counts[i] / total[c])))
    return out


def readable_label(keywords: Sequence[tuple[str, float]], fallback: str = "", max_terms: int = 3) -> str:
    """Join up to ``max_terms`` keywords with " / ", skipping one whose words are already shown."""
    chosen: list[str] = []
    covered: set[str] = set()
    for w, _ in keywords:
        words = set(w.split())
        if not w or words <= covered:
            continue
        chosen = [c for c in chosen if not set(c.split()) <= words]  # a bigram replaces its unigram
        chosen.append(w)
        covered = set().union(*(set(c.split()) for c in chosen))
        if len(chosen) == max_terms:
            break
    return " / ".join(chosen) if chosen else fallback


# ------------------------------------------------------------------------------- clustering
def _validate_kappa(kappa: int | None, n: int, clusterer: str) -> None:
    if kappa is None:
        if clusterer == "kmeans":
            raise ClusteringError(
                "kmeans needs kappa (the number of interest nodes); kappa=None is for clusterer 'bertopic' (HDBSCAN)"
            )
        return
    if isinstance(kappa, bool) or not isinstance(kappa, int | np.integer) or kappa < 1:
        raise ClusteringError(f"kappa={kappa!r}: expected a positive integer (or None with bertopic)")
    if kappa > n:
        raise ClusteringError(
            f"kappa={kappa} is larger than the number of distinct phrases ({n}); expected kappa <= {n}"
        )


def _renumber_by_size(assign: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, int]:
    """Drop empty clusters; number the rest 0.. by decreasing occurrences (ties: first phrase)."""
    ids = np.unique(assign)
    occ = np.array([counts[assign == c].sum() for c in ids])
    first = np.array([np.flatnonzero(assign == c)[0] for c in ids])
    order = np.lexsort((first, -occ))
    lut = np.empty(int(ids.max()) + 1, dtype=np.int64)
    lut[ids[order]] = np.arange(len(ids))
    return lut[assign], len(ids)


def _lsa(X: sp.csr_matrix, seed: int, dims: int = 100) -> tuple[Any, np.ndarray]:
    """tf-idf -> TruncatedSVD(dims) -> L2 rows: dense vectors for UMAP (LSA)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    k = max(1, min(dims, X.shape[1] - 1, X.shape[0] - 1))
    svd = TruncatedSVD(n_components=k, random_state=seed).fit(X)
    return svd, normalize(svd.transform(X)).astype(np.float32)


def _bertopic_embedder(enc: TfidfEncoder | SentenceEncoder, svd: Any = None) -> Any:
    """The embedding model BERTopic gets: the sentence model itself, or an LSA wrapper for tf-idf."""
    if isinstance(enc, SentenceEncoder):
        return enc.model
    from bertopic.backend import BaseEmbedder
    from sklearn.preprocessing import normalize

    class LsaEmbedder(BaseEmbedder):
        def embed(self, documents, verbose=False):  # noqa: ANN001, ARG002 - BERTopic's signature
            return normalize(svd.transform(enc.vectorizer.transform(list(documents)))).astype(np.float32)

    return LsaEmbedder()


@dataclass(frozen=True)
class _Settings:
    """What :func:`cluster_phrases` passes on to the clustering and the keywords besides the vectors."""

    seed: int
    representation: str
    n_keywords: int
    min_cluster_size: int
    n_init: int | str
    umap_kwargs: dict | None = None
    hdbscan_kwargs: dict | None = None


def _bertopic_models(n: int, kappa: int | None, st: _Settings, info: dict[str, Any]) -> tuple[Any, Any]:
    """BERTopic's UMAP and its clusterer (KMeans with ``kappa``, else HDBSCAN) for ``n`` phrases;
    their settings go into ``info``."""
    from umap import UMAP

    uk = {
        "n_neighbors": min(15, n - 1),
        "n_components": min(5, n - 2),
        "min_dist": 0.0,
        "metric": "cosine",
        "random_state": st.seed,
        "low_memory": True,
    }
    uk.update(st.umap_kwargs or {})
    info["umap"] = dict(uk)
    if kappa is not None:
        from sklearn.cluster import KMeans

        return UMAP(**uk), KMeans(n_clusters=kappa, random_state=st.seed, n_init=st.n_init)
    from hdbscan import HDBSCAN

    hk = {
        "min_cluster_size": st.min_cluster_size,
        "metric": "euclidean",
        "cluster_selection_method": "eom",
        "prediction_data": True,
    }
    hk.update(st.hdbscan_kwargs or {})
    info["hdbscan"] = {k: v for k, v in hk.items() if k != "prediction_data"}
    return UMAP(**uk), HDBSCAN(**hk)


def _bertopic(
    docs: list[str], emb: np.ndarray, embedder: Any, kappa: int | None, st: _Settings, assign: np.ndarray | None = None
) -> tuple[np.ndarray, dict[int, list], dict]:
    """Fit BERTopic; with ``assign`` given, only compute its representation of that clustering.
    Returns the topic of each doc, each topic's keywords and what to record."""
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.representation import KeyBERTInspired
    from sklearn.feature_extraction.text import CountVectorizer

    info: dict[str, Any] = {}
    rep = KeyBERTInspired(top_n_words=st.n_keywords, random_state=st.seed) if st.representation == "keybert" else None
    # unigrams: BERTopic joins a topic's phrases with spaces, so its bigrams would span phrases
    vec = CountVectorizer(ngram_range=(1, 1), token_pattern=r"(?u)\b[a-z]+\b")
    if assign is not None:  # representation of a given clustering ("manual topic modelling")
        umap_model, cluster_model = BaseDimensionalityReduction(), BaseCluster()
    else:
        umap_model, cluster_model = _bertopic_models(len(docs), kappa, st, info)
    tm = BERTopic(
        embedding_model=embedder,
        umap_model=umap_model,
        hdbscan_model=cluster_model,
        vectorizer_model=vec,
        representation_model=rep,
        top_n_words=st.n_keywords,
        calculate_probabilities=False,
        verbose=False,
    )
    with warnings.catch_warnings():  # UMAP: "n_jobs value 1 overridden to 1 by setting random_state"
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        topics, _ = tm.fit_transform(docs, embeddings=emb, y=None if assign is None else assign.tolist())
    topics = np.asarray(topics, dtype=np.int64)
    if assign is None and kappa is None:
        n_out = int((topics == -1).sum())
        info["outliers_before_reduction"] = n_out
        if n_out and (topics != -1).any():
            new = tm.reduce_outliers(docs, topics.tolist(), strategy="embeddings", embeddings=emb)
            tm.update_topics(
                docs, topics=new, vectorizer_model=vec, representation_model=rep, top_n_words=st.n_keywords
            )
            topics = np.asarray(new, dtype=np.int64)
        elif n_out:
            raise ClusteringError(
                f"bertopic/HDBSCAN found no cluster in {len(docs)} phrases (all outliers); "
                f"lower min_cluster_size (now {st.min_cluster_size}) or give kappa"
            )
    kw = {int(t): [(str(w), float(s)) for w, s in (tm.get_topic(int(t)) or []) if w] for t in np.unique(topics)}
    return topics, kw, info


def _distinct(occurrences: Sequence[str], kappa: int | None, clusterer: str, representation: str) -> list[str]:
    """The occurrences as text, once the arguments are checked (:class:`ClusteringError`)."""
    if clusterer not in CLUSTERERS:
        raise ClusteringError(f"clusterer {clusterer!r}: expected one of {list(CLUSTERERS)}")
    if representation not in REPRESENTATIONS:
        raise ClusteringError(f"representation {representation!r}: expected one of {list(REPRESENTATIONS)}")
    occurrences = [str(p) for p in occurrences]
    if not occurrences:
        raise ClusteringError("no phrases to cluster (the answers are empty, or every phrase was removed by cleaning)")
    n = len(set(occurrences))
    _validate_kappa(kappa, n, clusterer)
    if clusterer == "bertopic" and n < MIN_PHRASES_BERTOPIC:
        raise ClusteringError(
            f"bertopic needs at least {MIN_PHRASES_BERTOPIC} distinct phrases for UMAP, got {n}; use clusterer 'kmeans'"
        )
    return occurrences


def _lsa_or_vectors(enc: Any, X: Any, seed: int) -> tuple[Any, np.ndarray]:
    """``(svd, dense vectors)`` for BERTopic: LSA of tf-idf vectors, or the sentence vectors as they are."""
    return _lsa(X, seed) if isinstance(enc, TfidfEncoder) else (None, X)


def _fit_clusters(
    phrases: list[str], counts: np.ndarray, enc: Any, X: Any, clusterer: str, kappa: int | None, st: _Settings
) -> tuple[np.ndarray, dict[int, list], dict[str, Any]]:
    """Cluster ids of the distinct phrases (KMeans weighted by occurrences, or BERTopic), BERTopic's
    keywords per topic (empty for KMeans) and what to record."""
    if clusterer == "kmeans":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=kappa, random_state=st.seed, n_init=st.n_init)
        raw = km.fit_predict(X, sample_weight=counts.astype(np.float64))
        return raw, {}, {"kmeans": {"n_init": st.n_init, "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)}}
    svd, emb = _lsa_or_vectors(enc, X, st.seed)
    raw, bt_kw, info = _bertopic(phrases, emb, _bertopic_embedder(enc, svd), kappa, st)
    return raw, bt_kw, ({"lsa_dims": int(emb.shape[1])} if svd is not None else {}) | info


def _keywords(
    phrases: list[str], counts: np.ndarray, assign: np.ndarray, k: int, enc: Any, X: Any, st: _Settings, bt_kw: Any
) -> list[list[tuple[str, float]]]:
    """The keywords of each cluster ``0..k-1`` by ``st.representation``; ``bt_kw``: BERTopic's per
    topic (``(raw cluster ids, keywords)``) where BERTopic made the clusters, else None."""
    if st.representation == "keybert" and bt_kw is not None:
        raw, kw = bt_kw
        old_of_new = {int(assign[i]): int(raw[i]) for i in range(len(phrases))}
        return [kw.get(old_of_new[j], []) for j in range(k)]
    if st.representation == "keybert":
        svd, emb = _lsa_or_vectors(enc, X, st.seed)
        topics, kw, _ = _bertopic(phrases, emb, _bertopic_embedder(enc, svd), None, st, assign=assign)
        topic_of = {int(assign[i]): int(topics[i]) for i in range(len(phrases))}  # BERTopic renumbers by size
        return [kw.get(topic_of[j], []) for j in range(k)]
    if st.representation == "phrases":
        return phrase_keywords(counts, assign, k, phrases, top_n=st.n_keywords)
    return ctfidf_keywords(phrases, counts, assign, k, top_n=st.n_keywords)


def _labels(phrases: list[str], assign: np.ndarray, keywords: list, representation: str) -> list[str]:
    """A readable label per cluster: its member phrases as said (``phrases``), else its keywords
    (falling back to its most frequent phrase)."""
    if representation == "phrases":  # the member phrases as said, most frequent first
        return [" / ".join(w for w, _ in kws[:3]) for kws in keywords]
    first_phrase: dict[int, str] = {}
    for i, p in enumerate(phrases):  # phrases are sorted by count: the first one met is the most frequent
        first_phrase.setdefault(int(assign[i]), p)
    return [readable_label(kws, fallback=first_phrase[j]) for j, kws in enumerate(keywords)]


def cluster_phrases(
    occurrences: Sequence[str],
    encoder: str | TfidfEncoder | SentenceEncoder = "tfidf",
    clusterer: str = "kmeans",
    kappa: int | None = 350,
    seed: int = 0,
    *,
    representation: str = "ctfidf",
    n_keywords: int = 10,
    min_cluster_size: int = 10,
    n_init: int | str = "auto",
    umap_kwargs: dict | None = None,
    hdbscan_kwargs: dict | None = None,
    device: str = "cpu",
) -> Clustering:
    """Cluster phrases (one entry per occurrence, repeats allowed) into ``kappa`` labelled groups.

    ``umap_kwargs`` / ``hdbscan_kwargs`` override BERTopic's UMAP / HDBSCAN settings (e.g.
    ``{"min_samples": 5}``: with the defaults HDBSCAN may find only a few large clusters).
    Returns a :class:`Clustering` over the distinct phrases. Raises :class:`ClusteringError` for an
    empty input, a bad ``kappa`` (or one larger than the number of distinct phrases) and an unknown
    clusterer / representation.
    """
    occurrences = _distinct(occurrences, kappa, clusterer, representation)
    kappa = int(kappa) if kappa is not None else None
    st = _Settings(seed, representation, n_keywords, min_cluster_size, n_init, umap_kwargs, hdbscan_kwargs)
    tally = Counter(occurrences)
    phrases = sorted(tally, key=lambda p: (-tally[p], p))
    counts = np.array([tally[p] for p in phrases], dtype=np.int64)

    t0 = time.perf_counter()
    enc = make_encoder(encoder, device=device)
    enc.fit(occurrences)
    X = enc.encode(phrases)
    timings = {"encode_s": time.perf_counter() - t0}
    info: dict[str, Any] = {
        "encoder": enc.describe(),
        "clusterer": clusterer,
        "kappa": kappa,
        "seed": seed,
        "representation": representation,
        "distinct_phrases": len(phrases),
        "occurrences": int(counts.sum()),
    }
    t0 = time.perf_counter()
    raw, bt_kw, extra = _fit_clusters(phrases, counts, enc, X, clusterer, kappa, st)
    info.update(extra)
    timings["cluster_s"] = time.perf_counter() - t0

    assign, k = _renumber_by_size(np.asarray(raw, dtype=np.int64), counts)
    t0 = time.perf_counter()
    keywords = _keywords(phrases, counts, assign, k, enc, X, st, (raw, bt_kw) if clusterer == "bertopic" else None)
    labels = _labels(phrases, assign, keywords, representation)
    timings["label_s"] = time.perf_counter() - t0
    info["n_clusters"] = k
    info["timings"] = timings
    return Clustering(
        phrases=phrases, counts=counts, assign=assign, n_clusters=k, keywords=keywords, labels=labels, info=info
    )
