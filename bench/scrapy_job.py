"""The Scrapy baseline: the same pages and fields as Radar's run, written to JSON lines.

Run with the throwaway venv's Python (it imports scrapy, which Radar does not depend on):
`bench/.venv-baseline/bin/python bench/scrapy_job.py BASE OUT.jsonl [CONCURRENT_ITEMS]`.

The spider follows the listing's `a.next` links, takes title, link and category from each
`li.item`, fetches every item's detail page and takes summary and date from its JSON-LD
(falling back to OpenGraph) — the pages and fields Radar reads with `enrich:`.
Prints one JSON line: wall time, pages, items.
"""

from __future__ import annotations

import json
import sys
import time

import scrapy
from scrapy.crawler import CrawlerProcess


class CatalogueSpider(scrapy.Spider):
    name = "catalogue"

    def __init__(self, base: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start_urls = [f"{base}/catalogue/page/1.html"]

    def parse(self, response):  # type: ignore[no-untyped-def]
        for row in response.css("li.item"):
            href = row.css("h3 a::attr(href)").get()
            if not href:
                continue
            listing = {
                "title": row.css("h3 a::text").get(),
                "link": response.urljoin(href),
                "category": row.css("span.category::text").get(),
            }
            yield response.follow(href, self.parse_detail, cb_kwargs={"listing": listing})
        next_page = response.css("a.next::attr(href)").get()
        if next_page:
            yield response.follow(next_page, self.parse)

    def parse_detail(self, response, listing):  # type: ignore[no-untyped-def]
        summary = date = None
        for block in response.css('script[type="application/ld+json"]::text').getall():
            try:
                data = json.loads(block)
            except ValueError:
                continue
            if isinstance(data, dict):
                summary = summary or data.get("description")
                date = date or data.get("datePublished")
        summary = summary or response.css('meta[property="og:description"]::attr(content)').get()
        date = date or response.css('meta[property="article:published_time"]::attr(content)').get()
        yield {**listing, "summary": summary, "date": date}


def main() -> None:
    base, out = sys.argv[1], sys.argv[2]
    concurrent_items = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    process = CrawlerProcess(
        settings={
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "CONCURRENT_ITEMS": concurrent_items,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "USER_AGENT": "ScrapyBench (+https://example.org/contact/)",
            "FEEDS": {out: {"format": "jsonlines", "overwrite": True}},
        }
    )
    crawler = process.create_crawler(CatalogueSpider)
    started = time.perf_counter()
    process.crawl(crawler, base=base)
    process.start()
    wall = time.perf_counter() - started
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {
        "wall": wall,
        "requests": stats.get("downloader/request_count", 0),
        "responses": stats.get("downloader/response_count", 0),
        "items": stats.get("item_scraped_count", 0),
        "bytes": stats.get("downloader/response_bytes", 0),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
