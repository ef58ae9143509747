"""Micro-benchmark of the URL rules item-building runs for every listing record.

Times `scraper.urls.absolute_url` and `canonical_url` on 20,000 realistic item links
(absolute, relative, with query strings and tracking parameters, non-ASCII) against the
reference copies in tests/test_urls.py (the implementation before the fast paths), and
`scraper.normalise.build_items` on one listing's worth of records. Prints µs per call,
best of several repeats. Figures only; nothing here is a test.

    .venv/bin/python -m bench.urls_bench
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scraper.extract import RawRecord
from scraper.normalise import build_items
from scraper.urls import absolute_url, canonical_url
from tests.test_urls import reference_absolute_url, reference_canonical_url

if TYPE_CHECKING:
    from collections.abc import Callable

PAGE = "http://127.0.0.1:8080/catalogue/page/3.html"
N = 20_000
REPEATS = 5


def _hrefs(n: int) -> list[str]:
    """Mostly plain links, as a listing has them, with a sprinkling of harder ones."""
    forms = (
        "https://127.0.0.1:8080/item/i{:05d}.html",
        "item/i{:05d}.html",
        "/item/i{:05d}.html",
        "../item/i{:05d}.html",
        "item/i{:05d}.html?ref=list&utm_source=nl&b=2",
        "/nyheder/æble-og-øl-{:05d}/",
        " item/i{:05d}.html#top \n",
        "/a%2fb/i{:05d}%7e.html",
    )
    weights = (4, 6, 3, 1, 2, 1, 1, 1)
    pool = [form for form, weight in zip(forms, weights, strict=True) for _ in range(weight)]
    return [pool[i % len(pool)].format(i) for i in range(n)]


def _best(call: Callable[[], object], calls: int) -> float:
    """Best wall time of REPEATS runs, in µs per call."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main() -> None:
    hrefs = _hrefs(N)
    urls = [url for href in hrefs if (url := absolute_url(PAGE, href)) is not None]
    assert urls == [reference_absolute_url(PAGE, href) for href in hrefs]
    assert [canonical_url(u) for u in urls] == [reference_canonical_url(u) for u in urls]
    records = [
        RawRecord(fields={"title": f" Item {i} ", "link": href, "category": "Nyheder"})
        for i, href in enumerate(hrefs)
    ]

    print(f"{N:,} links against {PAGE}; µs per call, best of {REPEATS}")
    print(f"{'':16}{'reference':>10}{'current':>10}{'speed-up':>10}")
    for name, ref, cur, calls in (
        (
            "absolute_url",
            lambda: [reference_absolute_url(PAGE, h) for h in hrefs],
            lambda: [absolute_url(PAGE, h) for h in hrefs],
            len(hrefs),
        ),
        (
            "canonical_url",
            lambda: [reference_canonical_url(u) for u in urls],
            lambda: [canonical_url(u) for u in urls],
            len(urls),
        ),
    ):
        before, after = _best(ref, calls), _best(cur, calls)
        print(f"{name:16}{before:10.2f}{after:10.2f}{before / after:9.2f}x")
    items = _best(lambda: build_items(records, page_url=PAGE, language="da"), len(records))
    print(f"{'build_items':16}{'':10}{items:10.2f}   (per record, current code)")


if __name__ == "__main__":
    main()
