"""Where the LLM's base URL, model and API key come from.

Order, for each value separately: the explicit argument, then the environment
(``OPENAI_BASE_URL``; ``CIKGWB_LLM_MODEL`` or ``OPENAI_MODEL``; ``OPENAI_API_KEY``), then a
YAML settings file OUTSIDE the repository: ``$CIKGWB_SETTINGS`` or
``~/.config/cikgwb/settings.yaml`` with the keys ``base_url``, ``model``, ``api_key``. The base
URL, wherever it comes from, is checked before anything else happens (:func:`check_base_url`).

The key is only ever held in memory and handed to the ``openai`` client: it is never written
to a file, a log, a report or the answer store, and :class:`LLMSettings` hides it from
``repr``. The same holds for credentials inside the base URL (``http://user:pw@host/v1``):
they are sent as HTTP Basic auth but never printed, logged (also not under ``-v``) or stored
(:func:`split_credentials`, :func:`~cikgwb.knowledge.store.public_endpoint`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MODEL = "gpt-3.5-turbo-0125"  # the authors' model
OPENAI_BASE_URL = "https://api.openai.com/v1"
#: sent to servers that need no key (vLLM, llama.cpp, Ollama) when none is configured
NO_KEY = "sk-no-key-required"


def settings_path() -> Path:
    """``$CIKGWB_SETTINGS`` or ``~/.config/cikgwb/settings.yaml``."""
    env = os.environ.get("CIKGWB_SETTINGS")
    return Path(env).expanduser() if env else Path.home() / ".config" / "cikgwb" / "settings.yaml"


def _read_settings_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping with keys base_url, model, api_key")
    unknown = set(data) - {"base_url", "model", "api_key"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} (expected base_url, model, api_key)")
    return data


@dataclass(frozen=True)
class LLMSettings:
    """Resolved connection settings; ``api_key`` is excluded from ``repr``."""

    base_url: str = field(repr=False)
    model: str
    api_key: str = field(repr=False)
    key_source: str = "none"

    @property
    def is_openai(self) -> bool:
        return "api.openai.com" in self.base_url

    def client(self, timeout: float = 60.0) -> Any:
        """An ``openai.OpenAI`` client with its own retries OFF (we retry ourselves).

        Credentials inside the base URL (``http://user:password@host/v1``) are taken out of the
        URL and sent as HTTP Basic auth, as before, but the URL the client holds (and that its
        HTTP library logs under ``-v``) has none.
        """
        import openai

        url, auth = split_credentials(self.base_url)
        kw: dict[str, Any] = {}
        if auth is not None:
            kw["http_client"] = openai.DefaultHttpxClient(auth=auth, timeout=timeout)
        return openai.OpenAI(base_url=url, api_key=self.api_key, max_retries=0, timeout=timeout, **kw)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without user:password, (user, password) or None)``."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, (unquote(parts.username or ""), unquote(parts.password or ""))


def check_base_url(url: Any, where: str = "base_url") -> str:
    """``url`` if the ``openai`` client can use it as a base URL (``http`` or ``https``, a host, a
    port in 1..65535), else a ValueError naming ``where`` (the option, variable or file it came
    from) and the URL without credentials. Checked before any request or file: a malformed URL
    would otherwise be retried as if the server were down."""
    import re
    from urllib.parse import urlsplit

    text = str(url).strip()
    shown = re.sub(r"//[^/@]*@", "//", text)  # never print user:password
    example = "expected e.g. http://127.0.0.1:8000/v1 or https://api.openai.com/v1"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        why = (
            f"scheme {parts.scheme + '://'!r} is not http:// or https://" if "://" in text else "no http:// or https://"
        )
        raise ValueError(f"{where} {shown!r}: {why} ({example})")
    if not parts.hostname:
        raise ValueError(f"{where} {shown!r}: no host ({example})")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{where} {shown!r}: port {parts.netloc.rsplit(':', 1)[-1]!r} is not in 1-65535 ({example})")
    return text


def resolve_settings(base_url: str | None = None, model: str | None = None, api_key: str | None = None) -> LLMSettings:
    """Resolve base URL, model and key (argument, environment, settings file, default)."""
    path = settings_path()
    file = _read_settings_file(path)
    base = base_url or os.environ.get("OPENAI_BASE_URL") or file.get("base_url") or OPENAI_BASE_URL
    where = (
        "base_url"
        if base_url
        else "OPENAI_BASE_URL"
        if os.environ.get("OPENAI_BASE_URL")
        else f"base_url in {path}"
        if file.get("base_url")
        else "base_url"
    )
    check_base_url(base, where)
    mdl = (
        model
        or os.environ.get("CIKGWB_LLM_MODEL")
        or os.environ.get("OPENAI_MODEL")
        or file.get("model")
        or DEFAULT_MODEL
    )
    if api_key:
        key, src = api_key, "argument"
    elif os.environ.get("OPENAI_API_KEY"):
        key, src = os.environ["OPENAI_API_KEY"], "environment OPENAI_API_KEY"
    elif file.get("api_key"):
        key, src = str(file["api_key"]), f"settings file {path}"
    else:
        key, src = "", "none"
    settings = LLMSettings(base_url=str(base).rstrip("/"), model=str(mdl), api_key=key, key_source=src)
    if not key:
        if settings.is_openai:
            raise ValueError(
                "no API key for api.openai.com: set OPENAI_API_KEY, or api_key in "
                f"{path} (outside the repository), or pass --base-url for a local server"
            )
        settings = LLMSettings(
            base_url=settings.base_url, model=settings.model, api_key=NO_KEY, key_source="none (local server)"
        )
    return settings
