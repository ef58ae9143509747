"""Adapter kinds, looked up by the `kind` name a source declares in config.yaml.

The same registry drives config validation (each kind brings its spec model) and the
list of kinds in `radar --help` and the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scraper.crawl import Crawl, PageMemo
    from scraper.fetch import Fetcher
    from scraper.spec import SourceSpec


class Adapter(Protocol):
    """Turns one source's pages into a Crawl. Stateless: one instance serves every run."""

    kind: ClassVar[str]
    spec_model: ClassVar[type[SourceSpec]]

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl: ...


A = TypeVar("A", bound=type[Adapter])

_ADAPTERS: dict[str, Adapter] = {}


def register(cls: A) -> A:
    """Class decorator: make an adapter kind available. Registering a kind twice is an error."""
    if cls.kind in _ADAPTERS:
        raise ValueError(f"adapter kind {cls.kind!r} is already registered")
    _ADAPTERS[cls.kind] = cls()
    return cls


def adapter_for(kind: str) -> Adapter:
    """The adapter registered for `kind`; KeyError names the known kinds."""
    try:
        return _ADAPTERS[kind]
    except KeyError:
        raise KeyError(f"unknown kind {kind!r}; known kinds: {', '.join(known_kinds())}") from None


def known_kinds() -> list[str]:
    return sorted(_ADAPTERS)
