"""The embedded default: a small, deterministic, realistic synthetic dataset.

Users hold 1-3 latent interests (topics); items have readable titles and item-side KG
attributes (genre, author, series, publisher) tied to their topic; interactions follow a
popularity skew with a long tail of sparse users. The generator writes the same file layout as
the real datasets (``train.txt``, ``test.txt``, ``item_list.txt``, ``kg_final.txt``, ...), so
one loader serves all, plus the planted ground truth (``planted_user_topics.txt``,
``topics.txt``) kept for checks. ``user_interest_clustered.txt`` is an *oracle* interest graph
made from the planted truth with noise: it is not from an LLM and is labelled so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

GENERATOR_VERSION = 1

TOPICS: dict[str, dict[str, list[str]]] = {
    "science fiction": {
        "adj": ["Quantum", "Stellar", "Galactic", "Orbital", "Android", "Cosmic"],
        "noun": ["Starship", "Colony", "Nebula", "Signal", "Robot", "Frontier"],
        "sub": ["space opera", "cyberpunk"],
    },
    "mystery": {
        "adj": ["Silent", "Hidden", "Missing", "Crooked", "Midnight", "Locked"],
        "noun": ["Detective", "Alibi", "Clue", "Witness", "Murder", "Inspector"],
        "sub": ["detective fiction", "cozy mystery"],
    },
    "romance": {
        "adj": ["Tender", "Sweet", "Forbidden", "Summer", "Secret", "Eternal"],
        "noun": ["Love", "Kiss", "Heart", "Wedding", "Bride", "Promise"],
        "sub": ["historical romance", "contemporary romance"],
    },
    "fantasy": {
        "adj": ["Enchanted", "Dragon", "Elven", "Shadow", "Crystal", "Ancient"],
        "noun": ["Sword", "Wizard", "Kingdom", "Quest", "Sorcerer", "Throne"],
        "sub": ["epic fantasy", "fairy tales"],
    },
    "history": {
        "adj": ["Imperial", "Medieval", "Roman", "Victorian", "Revolutionary", "Colonial"],
        "noun": ["Empire", "War", "Dynasty", "Battle", "Century", "Republic"],
        "sub": ["military history", "ancient history"],
    },
    "cooking": {
        "adj": ["Simple", "Italian", "Vegetarian", "Rustic", "Spicy", "Homemade"],
        "noun": ["Kitchen", "Recipes", "Baking", "Cookbook", "Feast", "Bread"],
        "sub": ["baking", "world cuisine"],
    },
    "travel": {
        "adj": ["Wandering", "Distant", "Coastal", "Alpine", "Nomadic", "Tropical"],
        "noun": ["Journey", "Road", "Voyage", "Passport", "Island", "Expedition"],
        "sub": ["travel writing", "adventure travel"],
    },
    "horror": {
        "adj": ["Haunted", "Cursed", "Bloody", "Ghostly", "Wicked", "Grim"],
        "noun": ["Ghost", "Nightmare", "Vampire", "Crypt", "Demon", "Terror"],
        "sub": ["supernatural horror", "gothic horror"],
    },
    "poetry": {
        "adj": ["Lyric", "Quiet", "Autumn", "Collected", "Wild", "Lunar"],
        "noun": ["Poems", "Verses", "Sonnets", "Songs", "Elegy", "Odes"],
        "sub": ["modern poetry", "classic poetry"],
    },
    "biography": {
        "adj": ["Remarkable", "Unfinished", "Early", "Private", "Public", "Honest"],
        "noun": ["Life", "Memoir", "Diary", "Letters", "Years", "Portrait"],
        "sub": ["memoir", "political biography"],
    },
    "economics": {
        "adj": ["Global", "Invisible", "Rational", "Hidden", "Modern", "Wealthy"],
        "noun": ["Markets", "Capital", "Money", "Trade", "Economy", "Finance"],
        "sub": ["finance", "economic policy"],
    },
    "sports": {
        "adj": ["Winning", "Golden", "Fast", "Final", "Perfect", "Iron"],
        "noun": ["Season", "Game", "Champion", "Team", "Marathon", "Goal"],
        "sub": ["football", "athletics"],
    },
}
SURNAMES = [
    "Abbott",
    "Baker",
    "Carter",
    "Dalton",
    "Ellis",
    "Fisher",
    "Grant",
    "Hayes",
    "Irwin",
    "Jensen",
    "Keller",
    "Lawson",
    "Morgan",
    "Nolan",
    "Owens",
    "Porter",
    "Quinn",
    "Reyes",
    "Shaw",
    "Turner",
    "Upton",
    "Vance",
    "Walsh",
    "Young",
]
FIRST = ["Ann", "Ben", "Cara", "Dev", "Eve", "Finn", "Gail", "Hugo", "Ida", "Jon", "Kim", "Leo"]
PUBLISHERS = ["Harbor Press", "Lantern Books", "Northwind", "Penrose House", "Quill & Co", "Redwood"]
RELATIONS = [
    "book.book.genre",
    "book.written_work.author",
    "book.written_work.literary_series",
    "book.written_work.publisher",
]


def default_size() -> dict[str, int]:
    return {"n_users": 800, "n_items": 600, "seed": 7}


def _titles(rng: np.random.Generator, names: list[str], item_topic: np.ndarray) -> list[str]:
    """A distinct readable title per item, drawn from its topic's words."""
    titles: list[str] = []
    used: set[str] = set()
    for topic in item_topic:
        v = TOPICS[names[topic]]
        while True:
            t = f"{rng.choice(v['adj'])} {rng.choice(v['noun'])}"
            form = rng.integers(4)
            t = [t, f"The {t}", f"{t}s of {rng.choice(SURNAMES)}", f"{t}: A Novel"][form]
            if t not in used:
                break
            t = f"{t} {rng.integers(2, 9)}"
            if t not in used:
                break
        used.add(t)
        titles.append(t)
    return titles


def _kg(
    rng: np.random.Generator, names: list[str], item_topic: np.ndarray, titles: list[str]
) -> tuple[list[str], list[tuple[int, int, int]]]:
    """The entity names (the items first, then genres, authors, series, publishers) and the sorted
    KG triples ``(item, relation, entity)``."""
    T = len(names)
    ent_names: list[str] = list(titles)
    genre_ent = {}
    for t, nm in enumerate(names):
        genre_ent[t] = len(ent_names)
        ent_names.append(nm)
    authors: dict[int, list[int]] = {t: [] for t in range(T)}
    for t in range(T):
        for _ in range(6):
            authors[t].append(len(ent_names))
            ent_names.append(f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}")
    series: dict[int, list[int]] = {t: [] for t in range(T)}
    for t in range(T):
        v = TOPICS[names[t]]
        for _ in range(3):
            series[t].append(len(ent_names))
            ent_names.append(f"{rng.choice(v['adj'])} {rng.choice(v['noun'])} series")
    pubs = []
    for p in PUBLISHERS:
        pubs.append(len(ent_names))
        ent_names.append(p)
    triples = []
    for i, topic in enumerate(item_topic):
        t = int(topic)
        triples.append((i, 0, genre_ent[t]))
        if rng.random() < 0.15:  # cross-genre items
            triples.append((i, 0, genre_ent[int(rng.integers(T))]))
        triples.append((i, 1, int(rng.choice(authors[t]))))
        if rng.random() < 0.3:
            triples.append((i, 2, int(rng.choice(series[t]))))
        if rng.random() < 0.7:
            triples.append((i, 3, int(rng.choice(pubs))))
    return ent_names, sorted(set(triples))


def _users(
    rng: np.random.Generator, n_users: int, item_topic: np.ndarray, popularity: np.ndarray
) -> tuple[list[list[int]], list[np.ndarray], list[np.ndarray]]:
    """Each user's planted topics (1-3) and train and test items: heavy-tailed activity, 85% on-topic,
    a fifth of each user's items held out for test."""
    n_items = len(item_topic)
    user_topics, pairs_train, pairs_test = [], [], []
    for _ in range(n_users):
        k = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
        tops = sorted(rng.choice(len(TOPICS), size=k, replace=False).tolist())
        user_topics.append(tops)
        n = int(min(60, 4 + np.floor(rng.lognormal(1.6, 0.9))))
        w = popularity * np.where(np.isin(item_topic, tops), 1.0, 0.0)
        w = 0.85 * w / w.sum() + 0.15 * popularity / popularity.sum()
        items = rng.choice(n_items, size=min(n, n_items - 1), replace=False, p=w)
        n_test = max(1, int(round(0.2 * len(items))))
        pairs_train.append(items[n_test:])
        pairs_test.append(items[:n_test])
    return user_topics, pairs_train, pairs_test


def _oracle_interests(rng: np.random.Generator, user_topics: list[list[int]], n_ent: int) -> set[tuple[int, int]]:
    """The oracle interest graph: two sub-interests per topic (nodes after the ``n_ent`` entities), noisy."""
    ui = set()
    for u, tops in enumerate(user_topics):
        for t in tops:
            if rng.random() < 0.9:
                ui.add((u, n_ent + 2 * t + int(rng.integers(2))))
            if rng.random() < 0.3:
                ui.add((u, n_ent + 2 * t + int(rng.integers(2))))
        if rng.random() < 0.05:
            ui.add((u, n_ent + int(rng.integers(2 * len(TOPICS)))))
    return ui


def _lines(rows: list[Any]) -> list[str]:
    """``u item item ...`` lines, one per row, numbered from 0."""
    return [" ".join(map(str, [u, *row])) for u, row in enumerate(rows)]


def generate(out: Path, n_users: int = 800, n_items: int = 600, seed: int = 7) -> None:
    """Write the synthetic dataset to ``out`` (deterministic for given arguments)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    out.mkdir(parents=True, exist_ok=True)
    names = list(TOPICS)
    item_topic = np.arange(n_items) % len(names)
    rng.shuffle(item_topic)
    titles = _titles(rng, names, item_topic)
    popularity = 1.0 / (1.0 + rng.permutation(n_items)) ** 0.9
    ent_names, triples = _kg(rng, names, item_topic, titles)
    user_topics, pairs_train, pairs_test = _users(rng, n_users, item_topic, popularity)
    ui = _oracle_interests(rng, user_topics, len(ent_names))
    files = {
        "train.txt": _lines(pairs_train),
        "test.txt": _lines(pairs_test),
        "item_list.txt": ["org_id remap_id item_name"] + [f"SYN{i:05d} {i} {t}" for i, t in enumerate(titles)],
        "entity_list.txt": ["org_id remap_id entity_name"] + [f"E{e} {e} {nm}" for e, nm in enumerate(ent_names)],
        "relation_list.txt": ["org_id remap_id"] + [f"{r} {k}" for k, r in enumerate(RELATIONS)],
        "user_list.txt": ["org_id remap_id"] + [f"U{u} {u}" for u in range(n_users)],
        "kg_final.txt": [f"{h} {r} {t}" for h, r, t in triples],
        "user_interest_clustered.txt": [f"{u} {j}" for u, j in sorted(ui)],
        "topics.txt": ["topic_id name sub_interests"]
        + [f"{t}\t{nm}\t{';'.join(TOPICS[nm]['sub'])}" for t, nm in enumerate(names)],
        "planted_user_topics.txt": _lines(user_topics),
        "item_topics.txt": [f"{i} {int(t)}" for i, t in enumerate(item_topic)],
    }
    for name, lines in files.items():
        (out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "GENERATOR.json").write_text(
        json.dumps({"version": GENERATOR_VERSION, "n_users": n_users, "n_items": n_items, "seed": seed}) + "\n"
    )


def ensure_synthetic(folder: Path, **size) -> Path:
    """Generate the synthetic dataset into ``folder`` unless an identical one is there.

    Safe for several processes at once (two lanes or test workers starting on a fresh data
    folder): generation happens under a lock (``filelock``) on ``.<name>.lock`` beside the folder,
    into a temporary folder renamed into place, and a process that waited finds it done."""
    from filelock import FileLock

    folder = Path(folder)
    want = {"version": GENERATOR_VERSION, **default_size(), **size}
    marker = folder / "GENERATOR.json"

    def ready() -> bool:
        try:
            return marker.exists() and json.loads(marker.read_text()) == want
        except json.JSONDecodeError:
            return False

    if ready():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        if ready():  # made by another process while this one waited
            return folder
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        generate(tmp, n_users=want["n_users"], n_items=want["n_items"], seed=want["seed"])
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        os.replace(tmp, folder)
    return folder


def attach_truth(ds, folder: Path):
    """Add the planted truth to ``ds.meta`` and label the oracle interest graph honestly."""
    folder = Path(folder)
    topics = [ln.split("\t") for ln in (folder / "topics.txt").read_text().splitlines()[1:]]
    ds.meta["topic_names"] = [t[1] for t in topics]
    ds.meta["topic_sub_interests"] = [t[2].split(";") for t in topics]
    ds.meta["planted_user_topics"] = [
        [int(x) for x in ln.split()[1:]] for ln in (folder / "planted_user_topics.txt").read_text().splitlines()
    ]
    ds.meta["item_topic"] = np.array(
        [int(ln.split()[1]) for ln in (folder / "item_topics.txt").read_text().splitlines()], dtype=np.int64
    )
    ds.meta["interests_source"] = "synthetic oracle: planted interests with noise (NOT from an LLM; for checks only)"
    # oracle interest node j = 2 * topic + variant; readable labels
    labels = []
    for orig in ds.interest_ids:
        k = int(orig) - ds.n_entities
        labels.append(ds.meta["topic_sub_interests"][k // 2][k % 2] if 0 <= k < 2 * len(topics) else str(orig))
    ds.interest_labels = labels
    for k in ("interest_label_methods", "interest_names_from", "interest_names_file"):  # the oracle's own labels
        ds.meta.pop(k, None)
    return ds
