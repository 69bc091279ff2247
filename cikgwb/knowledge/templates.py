"""Prompt templates kept as versioned data (name + version + text).

A template is a YAML file with the keys ``name``, ``version``, ``system``, ``user`` and the
optional ``description`` and ``examples``. ``examples`` (few-shot prompting) is a list of worked
examples, each ``{titles: [...], answer: "..."}``: every example becomes a user message (the
``user`` text filled with the example's titles) followed by an assistant message (the answer),
between the system message and the real user's message. The texts may use two placeholders,
filled in one pass (so a title that happens to contain ``{kind}`` is left alone):

- ``{kind}``: ``books`` or ``movies``, chosen from the dataset (:func:`item_kind`);
- ``{titles}``: the user's history as ``[title1, title2, ...]`` (:func:`format_titles`).

The built-in templates live in ``cikgwb/knowledge/templates/<name>.v<version>.yaml``; the
default is the CIKGRec authors' prompt (``cikgrec-authors`` v1, docs/method.md section 2 step 2).
A user adds their own by passing the path of such a YAML file wherever a template name is
accepted. The template's name and version travel with every answer (they are part of the
answer store's key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = "cikgrec-authors"

#: what the items of each registered dataset are called in the prompt
ITEM_KINDS: dict[str, str] = {
    "book-crossing": "books",
    "dbbook2014": "books",
    "ml1m": "movies",
    "synthetic": "books",
}

_PLACEHOLDER = re.compile(r"\{(kind|titles)\}")


@dataclass(frozen=True)
class Template:
    """A prompt template: a system text and a user text with ``{kind}`` / ``{titles}``."""

    name: str
    version: int
    system: str
    user: str
    description: str = ""
    path: str | None = None
    examples: tuple[tuple[tuple[str, ...], str], ...] = ()

    def _fill(self, text: str, titles: list[str] | tuple[str, ...], kind: str) -> str:
        values = {"kind": kind, "titles": format_titles(list(titles))}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    def prompt_text(self, kind: str) -> str:
        """The prompt's own words, without the user's titles: system text, the user text with
        ``{titles}`` left empty, and the worked examples' titles (not their answers).

        An answer phrase made only of these words echoes the prompt (see
        :func:`cikgwb.knowledge.parse.echo_of`).
        """
        parts = [self._fill(self.system, [], kind), self._fill(self.user, [], kind)]
        parts += [t for titles, _ in self.examples for t in titles]
        return "\n".join(parts)

    @property
    def id(self) -> str:
        """``name@vVERSION``, the label stored with every answer."""
        return f"{self.name}@v{self.version}"

    def messages(self, titles: list[str], kind: str) -> list[dict[str, str]]:
        """The chat messages for one user: ``[{"role": "system", ...}, {"role": "user", ...}]``."""
        out = []
        if self.system.strip():
            out.append({"role": "system", "content": self._fill(self.system, [], kind)})
        for ex_titles, answer in self.examples:
            out.append({"role": "user", "content": self._fill(self.user, ex_titles, kind)})
            out.append({"role": "assistant", "content": answer})
        out.append({"role": "user", "content": self._fill(self.user, titles, kind)})
        return out


def format_titles(titles: list[str]) -> str:
    """``[title1, title2, ...]``: the authors' user message (titles joined by ``", "``)."""
    return "[" + ", ".join(titles) + "]"


def item_kind(ds: Any) -> str:
    """``books`` or ``movies`` for a dataset: ``ds.meta["item_kind"]`` if set, else by name.

    book-crossing, dbbook2014 and synthetic are books; ml1m is movies. Unknown names raise.
    """
    kind = (getattr(ds, "meta", None) or {}).get("item_kind")
    if kind:
        return str(kind)
    name = getattr(ds, "name", None)
    if name in ITEM_KINDS:
        return ITEM_KINDS[name]
    raise ValueError(
        f"item_kind: dataset name {name!r} is not one of {sorted(ITEM_KINDS)}; "
        "set ds.meta['item_kind'] to 'books' or 'movies'"
    )


def _from_mapping(data: Any, source: str) -> Template:
    if not isinstance(data, dict):
        raise ValueError(
            f"{source}: expected a YAML mapping with keys name, version, system, user; got {type(data).__name__}"
        )
    missing = [k for k in ("name", "version", "user") if k not in data]
    if missing:
        raise ValueError(f"{source}: missing key(s) {missing} (expected name, version, system, user)")
    name = data["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"{source}: name {name!r} must be letters, digits, '.', '_' or '-'")
    try:
        version = int(data["version"])
    except (TypeError, ValueError):
        raise ValueError(f"{source}: version {data['version']!r} is not an integer") from None
    system, user = data.get("system", "") or "", data["user"]
    if not isinstance(system, str) or not isinstance(user, str):
        raise ValueError(f"{source}: system and user must be strings")
    if "{titles}" not in system + user:
        raise ValueError(f"{source}: neither system nor user contains the {{titles}} placeholder")
    unknown = set(re.findall(r"\{([A-Za-z_]+)\}", system + user)) - {"kind", "titles"}
    if unknown:
        raise ValueError(f"{source}: unknown placeholder(s) {sorted(unknown)} (only {{kind}}, {{titles}})")
    unknown_keys = set(data) - {"name", "version", "system", "user", "description", "examples"}
    if unknown_keys:
        raise ValueError(
            f"{source}: unknown key(s) {sorted(unknown_keys)} (expected name, version, "
            "system, user, description, examples)"
        )
    examples = data.get("examples") or []
    if not isinstance(examples, list):
        raise ValueError(f"{source}: examples must be a list of {{titles: [...], answer: ...}}")
    exs = []
    for n, ex in enumerate(examples, start=1):
        ok = (
            isinstance(ex, dict)
            and set(ex) == {"titles", "answer"}
            and isinstance(ex["answer"], str)
            and ex["answer"].strip()
            and isinstance(ex["titles"], list)
            and ex["titles"]
            and all(isinstance(t, str) and t.strip() for t in ex["titles"])
        )
        if not ok:
            raise ValueError(
                f"{source}: example {n} must be {{titles: [non-empty strings], answer: non-empty string}}, got {ex!r}"
            )
        exs.append((tuple(t.strip() for t in ex["titles"]), ex["answer"].strip()))
    return Template(
        name=name,
        version=version,
        system=system.strip(),
        user=user,
        description=str(data.get("description", "") or "").strip(),
        path=source,
        examples=tuple(exs),
    )


def list_templates() -> list[Template]:
    """All built-in templates, sorted by name and version."""
    out = [
        _from_mapping(yaml.safe_load(p.read_text(encoding="utf-8")), str(p))
        for p in sorted(TEMPLATE_DIR.glob("*.yaml"))
    ]
    return sorted(out, key=lambda t: (t.name, t.version))


def load_template(spec: str | Path | Template | None = None) -> Template:
    """A template by built-in name (``name`` = newest version, or ``name@vN``) or YAML path.

    ``None`` gives the default (the authors' prompt).
    """
    if isinstance(spec, Template):
        return spec
    spec = DEFAULT_TEMPLATE if spec is None else spec
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"template file {path} not found")
        return _from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    name, _, ver = str(spec).partition("@v")
    found = [t for t in list_templates() if t.name == name and (not ver or str(t.version) == ver)]
    if not found:
        known = ", ".join(t.id for t in list_templates())
        raise ValueError(f"template {spec!r} not found (built-in: {known}; or give a YAML file path)")
    return found[-1]
