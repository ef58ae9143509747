"""A synthetic catalogue-like site, written as static files for nginx to serve.

`python -m bench.site --size 2000 --snapshot 1 --out DIR` writes:

- `catalogue/page/<n>.html`: the listing, 20 items a page, newest first, each page linking
  to the next with `a.next`; an item shows its title, link and category;
- `item/<id>.html`: one detail page per item, describing itself with JSON-LD (an Article:
  headline, description, datePublished, articleSection) and OpenGraph meta;
- `feed.rss` (the newest 50 items), `sitemap.xml` (every item), `robots.txt`;
- `truth.json`: what changed from snapshot K-1 to K (item ids new / changed / removed).

Snapshot 1 is the base site. Snapshot K applies K-1 seeded steps to it; each step adds 2 %
(at the top, as a catalogue shows its newest first), edits the title of 1 % and removes 1 %
of the base size. Files are only rewritten when their content changes, so nginx keeps the
ETag / Last-Modified of unchanged pages and a conditional GET of them is answered 304.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

PER_PAGE = 20
CATEGORIES = ("Borgerpanel", "Deliberation", "Samskabelse", "Metode", "Rapport", "Case")
WORDS = (
    *("borgerinddragelse", "demokrati", "samskabelse", "dialog", "lokalsamfund", "metode"),
    *("panel", "kommune", "deltagelse", "tillid", "fællesskab", "forsøg", "erfaring"),
    *("praksis", "udvikling", "rådgivning"),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One catalogue item of the synthetic site."""

    ident: str
    title: str
    category: str
    summary: str
    date: str


def _entry(number: int, rng: random.Random) -> Entry:
    words = " ".join(rng.choice(WORDS) for _ in range(5))
    summary = " ".join(rng.choice(WORDS) for _ in range(30)).capitalize() + "."
    day = 1 + number % 28
    month = 1 + (number // 28) % 12
    return Entry(
        ident=f"i{number:07d}",
        title=f"{words.capitalize()} nr. {number}",
        category=CATEGORIES[number % len(CATEGORIES)],
        summary=summary,
        date=f"20{15 + number % 10:02d}-{month:02d}-{day:02d}",
    )


@dataclass(frozen=True, slots=True)
class Truth:
    new: list[str]
    changed: list[str]
    removed: list[str]


def catalogue(size: int, snapshot: int, *, seed: int = 7) -> tuple[list[Entry], Truth]:
    """The items of snapshot `snapshot` (newest first) and what its last step changed."""
    rng = random.Random(seed)
    entries = [_entry(number, rng) for number in range(size, 0, -1)]
    truth = Truth([], [], [])
    next_number = size + 1
    for step in range(2, snapshot + 1):
        step_rng = random.Random(seed * 1_000_003 + step)
        adds, edits, removes = round(size * 0.02), round(size * 0.01), round(size * 0.01)
        chosen = step_rng.sample(range(len(entries)), edits + removes)
        edit_at, remove_at = set(chosen[:edits]), set(chosen[edits:])
        changed = [e.ident for i, e in enumerate(entries) if i in edit_at]
        removed = [e.ident for i, e in enumerate(entries) if i in remove_at]
        kept = [
            replace(e, title=f"{e.title} (revideret {step})") if i in edit_at else e
            for i, e in enumerate(entries)
            if i not in remove_at
        ]
        added = [_entry(next_number + n, step_rng) for n in range(adds)][::-1]
        next_number += adds
        entries = added + kept
        truth = Truth([e.ident for e in added], changed, removed)
    return entries, truth


def _listing_page(entries: list[Entry], number: int, pages: int) -> str:
    rows = "\n".join(
        f'<li class="item"><h3><a href="/item/{e.ident}.html">{escape(e.title)}</a></h3>'
        f'<span class="category">{escape(e.category)}</span>'
        f'<p class="meta">Katalognr. {e.ident}</p></li>'
        for e in entries
    )
    nav = f'<a class="next" href="/catalogue/page/{number + 1}.html">Næste</a>'
    return (
        '<!doctype html><html lang="da"><head><meta charset="utf-8">'
        f"<title>Inspiration – side {number}</title></head><body>"
        '<header><nav><a href="/">Forside</a> <a href="/feed.rss">RSS</a></nav></header>'
        f'<main><h1>Inspiration til praksis</h1><ul class="items">\n{rows}\n</ul>'
        f'<nav class="pager">{nav if number < pages else ""}</nav></main>'
        "<footer>Syntetisk katalog til benchmarks</footer></body></html>\n"
    )


def _detail_page(entry: Entry) -> str:
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Article",
            "headline": entry.title,
            "description": entry.summary,
            "datePublished": entry.date,
            "articleSection": entry.category,
        },
        ensure_ascii=False,
    )
    body = "".join(f"<p>{escape(entry.summary)}</p>" for _ in range(4))
    return (
        '<!doctype html><html lang="da"><head><meta charset="utf-8">'
        f"<title>{escape(entry.title)}</title>"
        f'<meta property="og:title" content="{escape(entry.title)}">'
        f'<meta property="og:description" content="{escape(entry.summary)}">'
        f'<meta property="article:published_time" content="{entry.date}">'
        f'<meta property="article:section" content="{escape(entry.category)}">'
        f'<script type="application/ld+json">{ld}</script></head><body>'
        f"<article><h1>{escape(entry.title)}</h1>{body}</article></body></html>\n"
    )


def _feed(entries: list[Entry]) -> str:
    items = "".join(
        f"<item><title>{escape(e.title)}</title><link>/item/{e.ident}.html</link>"
        f"<guid>{e.ident}</guid><category>{escape(e.category)}</category>"
        f"<description>{escape(e.summary)}</description></item>"
        for e in entries[:50]
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Inspiration</title><link>/</link><description>Nyt</description>{items}"
        "</channel></rss>\n"
    )


def _sitemap(entries: list[Entry]) -> str:
    urls = "".join(f"<url><loc>/item/{e.ident}.html</loc></url>" for e in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    )


def _put(path: Path, text: str, wanted: set[Path]) -> bool:
    """Write `text` unless the file already holds it (keeping its mtime, hence its ETag)."""
    wanted.add(path)
    data = text.encode("utf-8")
    before = None
    try:
        if path.read_bytes() == data:
            return False
        before = path.stat().st_mtime
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    if before is not None:
        # nginx's ETag is mtime and size: a rewrite within the same second must still differ.
        stamp = max(time.time(), before + 1)
        os.utime(path, (stamp, stamp))
    return True


def write_site(out: Path, *, size: int, snapshot: int = 1, seed: int = 7) -> Truth:
    """Write (or update in place) the site of `size` base items at `snapshot` under `out`."""
    entries, truth = catalogue(size, snapshot, seed=seed)
    wanted: set[Path] = set()
    pages = max(1, -(-len(entries) // PER_PAGE))
    for number in range(1, pages + 1):
        chunk = entries[(number - 1) * PER_PAGE : number * PER_PAGE]
        _put(
            out / "catalogue" / "page" / f"{number}.html",
            _listing_page(chunk, number, pages),
            wanted,
        )
    for entry in entries:
        _put(out / "item" / f"{entry.ident}.html", _detail_page(entry), wanted)
    _put(out / "feed.rss", _feed(entries), wanted)
    _put(out / "sitemap.xml", _sitemap(entries), wanted)
    _put(out / "robots.txt", "User-agent: *\nDisallow: /private/\nSitemap: /sitemap.xml\n", wanted)
    _put(out / "index.html", '<a href="/catalogue/page/1.html">Katalog</a>\n', wanted)
    for stale in [p for p in out.rglob("*.html") if p not in wanted]:
        stale.unlink()
    meta = {"size": size, "snapshot": snapshot, "seed": seed, "items": len(entries)}
    meta["pages"] = pages
    (out / "truth.json").write_text(
        json.dumps({**meta, "new": truth.new, "changed": truth.changed, "removed": truth.removed})
    )
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--snapshot", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    truth = write_site(args.out, size=args.size, snapshot=args.snapshot, seed=args.seed)
    counts = f"new {len(truth.new)}, changed {len(truth.changed)}, removed {len(truth.removed)}"
    print(f"{args.out}: {counts}")


if __name__ == "__main__":
    main()
