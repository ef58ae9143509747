"""Inspiration Radar against Scrapy (and urlwatch) on one synthetic site, in one run.

    .venv/bin/python -m bench.run --size 20000      # the full comparison (~10 minutes)
    .venv/bin/python -m bench.run --smoke           # 200 items, no Scrapy: what CI runs

See bench/README.md for what each figure means. Every tool runs as a child process on the
same nginx-served site; each timing is the median of `--repeats` runs, because other work
on the machine makes single timings noisy. Exits non-zero on any error or when the events
after a snapshot differ from the generator's truth; timings never fail the run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.baseline import baseline_python, scrapy, urlwatch
from bench.measure import Measured, measured, med
from bench.server import Nginx, wrk_requests_per_second
from bench.site import write_site

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PACKAGES = ("radar", "scraper", "storage", "feeds", "bench")


def compile_radar() -> None:
    """Radar's modules as bytecode, as an installed tool has them: pip compiled Scrapy's
    and urlwatch's on install, but an editable checkout under PYTHONDONTWRITEBYTECODE=1
    (set on these machines) would compile ~60 modules from source in every process."""
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


TARGETS: list[tuple[str, bool | None, str]] = []


def say(text: str = "") -> None:
    print(text, flush=True)


def target(name: str, passed: bool | None, figure: str) -> None:
    TARGETS.append((name, passed, figure))
    verdict = "n/a " if passed is None else ("PASS" if passed else "MISS")
    say(f"  [{verdict}] {name}: {figure}")


def radar(base: str, db: str, *, enrich: bool) -> Measured:
    cmd = [PYTHON, "-m", "bench.radar_job", "--base", base, "--db", db]
    child = measured([*cmd, "--enrich"] if enrich else cmd, cwd=ROOT)
    if child.result.get("status") in ("failed", "crashed", "suspect", "partial"):
        raise RuntimeError(f"radar run {child.result['status']}: {child.result.get('error')}")
    return child


def line(label: str, runs: list[Measured], pages: int) -> dict[str, float]:
    wall = med([r.wall for r in runs])
    inner = med([float(r.result.get("wall", r.wall)) for r in runs])
    cpu = med([r.cpu for r in runs])
    rss = med([r.peak_rss_mb for r in runs])
    say(
        f"  {label:<28} {wall:7.2f} s  {pages / wall:7.0f} pages/s  "
        f"({pages / inner:5.0f} pages/s after start-up)  {1000 * cpu / pages:5.2f} ms CPU/page  "
        f"{rss:6.1f} MB peak RSS"
    )
    return {"wall": wall, "rate": pages / wall, "cpu": cpu, "rss": rss}


def compare(
    args: argparse.Namespace, base: str, work: Path, meta: dict[str, Any]
) -> dict[str, Any]:
    pages = 1 + meta["pages"] + meta["items"]
    say(
        f"\n== End to end: robots.txt + {meta['pages']} listing pages + {meta['items']} "
        f"detail pages = {pages} pages, medians of {args.repeats} runs =="
    )
    say(
        "  same work for both: follow a.next through the listing, take title/link/category per"
        " item, fetch each item's page and take summary/date from its JSON-LD"
    )
    python = None if args.smoke or args.no_scrapy else baseline_python()
    runs: dict[str, list[Measured]] = {"radar": [], "unchanged": [], "scrapy": [], "scrapy10": []}
    for rep in range(args.repeats):
        db = f"sqlite:///{work}/radar-{rep}.db"
        first = radar(base, db, enrich=True)
        if first.result["items"] != meta["items"] or first.result["status"] != "baseline":
            raise RuntimeError(f"radar first run wrong: {first.result}")
        runs["radar"].append(first)
        runs["unchanged"].append(radar(base, db, enrich=True))
        if python is not None:
            for key, items in (("scrapy", 100), ("scrapy10", 10)):
                out = work / f"{key}.jsonl"
                child = scrapy(python, base, out, items)
                scraped = sum(1 for _ in out.open())
                if scraped != meta["items"]:
                    raise RuntimeError(f"scrapy scraped {scraped} items, not {meta['items']}")
                runs[key].append(child)
    figures = {"radar": line("Inspiration Radar", runs["radar"], pages)}
    if python is not None:
        figures["scrapy"] = line("Scrapy (CONCURRENT_ITEMS=100)", runs["scrapy"], pages)
        figures["scrapy10"] = line("Scrapy (CONCURRENT_ITEMS=10)", runs["scrapy10"], pages)
        r, s, s10 = figures["radar"], figures["scrapy"], figures["scrapy10"]
        say(
            f"  ratios: Radar/Scrapy pages/s {r['rate'] / s['rate']:.2f}×, Radar/Scrapy(10) "
            f"{r['rate'] / s10['rate']:.2f}×, CPU/page {r['cpu'] / s['cpu']:.2f}×, "
            f"peak RSS {r['rss'] / s['rss']:.2f}×"
        )
        if not args.smoke:
            target(
                "end-to-end pages/s ≥ 1.5× Scrapy default",
                r["rate"] >= 1.5 * s["rate"],
                f"{r['rate'] / s['rate']:.2f}×",
            )
            target(
                "ahead of Scrapy CONCURRENT_ITEMS=10",
                r["rate"] > s10["rate"],
                f"{r['rate'] / s10['rate']:.2f}×",
            )
            target(
                "peak RSS ≤ Scrapy's",
                r["rss"] <= s["rss"],
                f"{r['rss']:.1f} MB vs {s['rss']:.1f} MB",
            )
    unchanged(args, runs)
    return {"db": f"sqlite:///{work}/radar-{args.repeats - 1}.db", "first": figures["radar"]}


def unchanged(args: argparse.Namespace, runs: dict[str, list[Measured]]) -> None:
    say(f"\n== Unchanged re-run (same database, nothing changed), medians of {args.repeats} ==")
    firsts, agains = runs["radar"], runs["unchanged"]
    share_304 = med([r.result["statuses"].get("304", 0) / r.result["requests"] for r in agains])
    share_bytes = med(
        [a.result["bytes"] / f.result["bytes"] for f, a in zip(firsts, agains, strict=True)]
    )
    pairs = list(zip(firsts, agains, strict=True))
    share_time = med([a.wall / f.wall for f, a in pairs])
    inner = med([a.result["wall"] / f.result["wall"] for f, a in pairs])
    again = agains[-1].result
    process_s, run_s = med([a.wall for a in agains]), med([a.result["wall"] for a in agains])
    say(
        f"  requests {again['requests']} ({again['statuses']}), {again['bytes']} bytes, "
        f"{process_s:.2f} s (process), {run_s:.2f} s (the run)"
    )
    say(
        f"  as a share of the first run: bytes {100 * share_bytes:.2f} %, time "
        f"{100 * inner:.1f} % (the run itself), {100 * share_time:.1f} % (whole process, "
        f"including interpreter start-up, imports and the schema check: {process_s - run_s:.2f} s)"
    )
    if not args.smoke:
        target("unchanged: ≥ 95 % answered 304", share_304 >= 0.95, f"{100 * share_304:.1f} %")
        target("unchanged: ≤ 5 % of bytes", share_bytes <= 0.05, f"{100 * share_bytes:.2f} %")
        target("unchanged: ≤ 10 % of time (the run)", inner <= 0.10, f"{100 * inner:.1f} %")
        target(
            "unchanged: ≤ 10 % of time (whole process)",
            share_time <= 0.10,
            f"{100 * share_time:.1f} %",
        )


def snapshot(args: argparse.Namespace, base: str, site: Path, db: str) -> bool:
    truth = write_site(site, size=args.size, snapshot=2)
    say(
        f"\n== After --snapshot 2 (truth: {len(truth.new)} new, {len(truth.changed)} changed, "
        f"{len(truth.removed)} removed) =="
    )
    child = radar(base, db, enrich=True)
    events = child.result["events"]
    exact = (
        sorted(events.get("new", [])) == sorted(truth.new)
        and sorted(events.get("changed", [])) == sorted(truth.changed)
        and sorted(events.get("removed", [])) == sorted(truth.removed)
        and set(events) <= {"new", "changed", "removed"}
    )
    found = {kind: len(keys) for kind, keys in events.items()}
    say(
        f"  Radar found {found} in {child.wall:.2f} s ({child.result['requests']} requests, "
        f"{child.result['statuses']}); the same item ids as the truth: {'yes' if exact else 'NO'}"
    )
    target("snapshot events exact", exact, f"{found}")
    write_site(site, size=args.size, snapshot=1)
    return exact


def listing_check(args: argparse.Namespace, base: str, work: Path, meta: dict[str, Any]) -> None:
    pages = meta["pages"]
    say(
        f"\n== Checking the {pages} listing pages for changes (no detail pages), "
        f"medians of {args.repeats} =="
    )
    python = None if args.smoke or args.no_scrapy else baseline_python()
    runs: dict[str, list[Measured]] = {"first": [], "again": [], "uw": [], "uw_again": []}
    for rep in range(args.repeats):
        db = f"sqlite:///{work}/listing-{rep}.db"
        runs["first"].append(radar(base, db, enrich=False))
        runs["again"].append(radar(base, db, enrich=False))
        if python is not None:
            first, again = urlwatch(python, base, work / f"urlwatch-{rep}", pages)
            runs["uw"].append(first)
            runs["uw_again"].append(again)
    figures = {}
    for key, label in (("first", "first run"), ("again", "unchanged run")):
        wall = med([r.result["wall"] for r in runs[key]])
        proc = med([r.wall for r in runs[key]])
        figures[key] = 1000 * proc / pages
        say(
            f"  Radar {label:<14} {1000 * proc / pages:6.2f} ms/page (whole process), "
            f"{1000 * wall / pages:6.2f} ms/page (the run itself)"
        )
    for key, label in (("uw", "first run"), ("uw_again", "unchanged run")):
        if runs[key]:
            figures[key] = 1000 * med([r.wall for r in runs[key]]) / pages
            say(f"  urlwatch {label:<11} {figures[key]:6.2f} ms/page (whole process, 10 threads)")
    if python is None or args.smoke:
        return
    for key, uw, label in (("first", "uw", "first"), ("again", "uw_again", "unchanged")):
        target(
            f"listing check, {label} run: ≤ half urlwatch's time per page",
            figures[key] <= 0.5 * figures[uw],
            f"{figures[key]:.2f} vs {figures[uw]:.2f} ms/page ({figures[key] / figures[uw]:.2f}×)",
        )


def storage(args: argparse.Namespace) -> None:
    sizes = (1000,) if args.smoke else (10_000, 100_000)
    say(
        "\n== Diff + store (record_crawl: load, diff, one transaction), synthetic items; "
        f"100k: medians of {args.repeats} =="
    )
    for kind in ("sqlite", "postgresql"):
        for size in sizes:
            runs = [store_once(kind, size) for _ in range(args.repeats if size == 100_000 else 1)]
            first, second = med([r["first"] for r in runs]), med([r["second"] for r in runs])
            each = ", ".join(f"{r['first']:.2f}/{r['second']:.2f}" for r in runs)
            say(
                f"  {kind:<10} {size:>7} items: first run (all stored) {first:.2f} s, "
                f"second run (+2 %/~1 %/-1 %) {second:.2f} s  (each run: {each})"
            )
            if size == 100_000:
                worst = max(first, second)
                target(
                    f"diff + store 100k on {kind} < 3 s",
                    worst < 3,
                    f"{worst:.2f} s (slower of the two runs' medians)",
                )


def store_once(kind: str, size: int) -> dict[str, Any]:
    """One store_job: a first and a second run of `size` items on a new database."""
    child = measured(
        [PYTHON, "-m", "bench.store_job", "store", "--items", str(size), "--db", kind], cwd=ROOT
    )
    if not child.result.get("exact"):
        raise RuntimeError(f"store bench counts wrong: {child.result}")
    return child.result


def feed(args: argparse.Namespace) -> None:
    say("\n== Feed generation ==")
    r = measured([PYTHON, "-m", "bench.store_job", "feed", "--entries", "1000"], cwd=ROOT).result
    say(f"  build_atom, 1000 entries: {r['seconds']:.3f} s (median of 5), {r['bytes']} bytes")
    if not args.smoke:
        target("1,000-entry feed < 0.3 s", r["seconds"] < 0.3, f"{r['seconds']:.3f} s")


def memory(args: argparse.Namespace, work: Path) -> None:
    runs = 10 if args.smoke else 100
    small = work / "small-site"
    write_site(small, size=200)
    with Nginx(small) as server:
        say(f"\n== Memory over {runs} scheduled runs (200-item site, one process) ==")
        r = measured(
            [PYTHON, "-m", "bench.store_job", "memory", "--base", server.base, "--runs", str(runs)],
            cwd=ROOT,
        ).result
    rss = r["rss_mb"]
    warm = rss[min(9, len(rss) - 1)]
    say(
        f"  RSS after run 1: {rss[0]:.1f} MB, run 10: {warm:.1f} MB, run {runs}: {rss[-1]:.1f} MB; "
        f"growth 1→{runs}: {rss[-1] - rss[0]:.1f} MB, 10→{runs}: {rss[-1] - warm:.1f} MB"
    )
    if not args.smoke:
        target(
            "memory growth over 100 runs < 5 MB", rss[-1] - rss[0] < 5, f"{rss[-1] - rss[0]:.1f} MB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="200 items, 1 repeat, no Scrapy")
    parser.add_argument("--no-scrapy", action="store_true", help="leave out Scrapy and urlwatch")
    parser.add_argument(
        "--only", choices=("all", "listing"), default="all", help="listing: only the listing check"
    )
    args = parser.parse_args()
    if args.smoke:
        args.size, args.repeats = 200, 1
    started = time.perf_counter()
    compile_radar()
    say(
        f"Inspiration Radar benchmark: --size {args.size}, {os.cpu_count()} CPUs, "
        f"{args.repeats} repeat(s); timings are medians (the machine is shared, so they are noisy)"
    )
    with tempfile.TemporaryDirectory(prefix="radar-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers (user nobody when started as root) read the site
        site = work / "site"
        write_site(site, size=args.size)
        meta = json.loads((site / "truth.json").read_text())
        with Nginx(site, workers=2) as server:
            rate = wrk_requests_per_second(f"{server.base}/catalogue/page/1.html", seconds=2)
            say(
                f"nginx at {server.base}: {rate or float('nan'):,.0f} req/s for a listing page "
                "(wrk, 16 connections, 2 s): far above any crawler here, so not the bottleneck"
            )
            exact = True
            if args.only == "all":
                state = compare(args, server.base, work, meta)
                exact = snapshot(args, server.base, site, state["db"])
            listing_check(args, server.base, work, meta)
        if args.only == "all":
            storage(args)
            feed(args)
            memory(args, work)
    say(f"\n== Targets ({time.perf_counter() - started:.0f} s in all) ==")
    for name, passed, figure in TARGETS:
        verdict = "n/a " if passed is None else ("PASS" if passed else "MISS")
        say(f"  [{verdict}] {name}: {figure}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
