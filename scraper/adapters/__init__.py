"""Adapter kinds. Importing this package registers every built-in kind."""

from __future__ import annotations

from scraper.adapters import feed, html, jsonapi, sitemap, wordpress
from scraper.adapters.registry import Adapter, adapter_for, known_kinds, register

__all__ = [
    "Adapter",
    "adapter_for",
    "feed",
    "html",
    "jsonapi",
    "known_kinds",
    "register",
    "sitemap",
    "wordpress",
]
