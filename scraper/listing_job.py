"""One listing page's items, extracted by a worker process (`python -m scraper.listing_job`).

A walk through a long listing is one sequence of pages: each page names the next. The event
loop fetches a page, reads only where it leads (scraper.extract.listing_links) and goes on
to the next one, while this module, in a child process on another core, selects and cleans
the page's items: the same extract_listing and build_items a page read in-process gets.

The child imports only what extraction needs (selectolax and the pure scraper modules), so
it starts in ~80 ms and holds ~20 MB. Jobs and answers cross the pipe as length-prefixed
marshal frames of plain values: marshal is the fastest codec for strings and tuples, and
both ends are this module in the same Python.
"""

from __future__ import annotations

import datetime as dt
import marshal
import struct
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from radar.items import ExtractedItem, PartialDate, Precision
from scraper.extract import extract_listing
from scraper.identity import identity_from_parts
from scraper.normalise import Normalised, build_items

if TYPE_CHECKING:
    from scraper.identity import IdentityParts

FRAME_HEADER = struct.Struct("<I")  # a job: the length of the marshal payload that follows
ANSWER_HEADER = struct.Struct("<II?")  # an answer: payload length, job id, whether it worked


@dataclass(frozen=True, slots=True)
class PlainSelector:
    """A selector as a job carries it (scraper.spec.Selector without pydantic)."""

    css: str
    attr: str | None


@dataclass(frozen=True, slots=True)
class ListingJob:
    """Everything needed to turn one fetched listing page into items, as plain values."""

    html: str
    base_url: str  # where the page's links resolve from: its URL, or its <base href>
    item: str
    fields: tuple[tuple[str, PlainSelector], ...]
    language: str | None
    identity: IdentityParts

    def to_wire(self) -> tuple[Any, ...]:
        fields = tuple((name, pick.css, pick.attr) for name, pick in self.fields)
        return (self.html, self.base_url, self.item, fields, self.language, self.identity)

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> ListingJob:
        html, base_url, item, fields, language, identity = wire
        picks = tuple((name, PlainSelector(css, attr)) for name, css, attr in fields)
        return cls(html, base_url, item, picks, language, identity)


def listing_items(job: ListingJob) -> Normalised:
    """The page's items, exactly as a walk reading it in-process would build them."""
    page = extract_listing(job.html, item=job.item, fields=dict(job.fields), next_page=None)
    return build_items(
        page.records,
        page_url=job.base_url,
        language=job.language,
        identity=identity_from_parts(job.identity),
    )


def items_to_wire(normalised: Normalised) -> tuple[list[tuple[Any, ...]], int]:
    return [_item_to_wire(item) for item in normalised.items], normalised.skipped


def items_from_wire(wire: tuple[list[tuple[Any, ...]], int]) -> Normalised:
    rows, skipped = wire
    return Normalised(items=tuple(_item_from_wire(row) for row in rows), skipped=skipped)


def _item_to_wire(item: ExtractedItem) -> tuple[Any, ...]:
    date = item.date
    when = (date.value.toordinal(), date.precision.value) if date is not None else None
    return (
        item.key,
        item.url,
        item.title,
        item.summary,
        item.category,
        when,
        item.language,
        item.links,
    )


def _item_from_wire(row: tuple[Any, ...]) -> ExtractedItem:
    key, url, title, summary, category, when, language, links = row
    date = None
    if when is not None:
        date = PartialDate(dt.date.fromordinal(when[0]), Precision(when[1]))
    return ExtractedItem(key, url, title, summary, category, date, language, links)


def wire_frame(value: Any) -> bytes:
    """A job as one frame: its length, then its marshal bytes."""
    payload = marshal.dumps(value)
    return FRAME_HEADER.pack(len(payload)) + payload


def read_frame(stream: IO[bytes]) -> Any:
    """The next job frame's value, or None at the end of the stream."""
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None
    (size,) = FRAME_HEADER.unpack(header)
    return marshal.loads(stream.read(size))


def decode_items(payload: bytes | memoryview) -> Normalised:
    """A successful answer's payload as the page's items."""
    return items_from_wire(marshal.loads(payload))


def serve(jobs: IO[bytes], answers: IO[bytes]) -> None:
    """The child's loop: one answer per job, in order, until the parent closes the pipe.

    An answer is its header (payload length, job id, ok) and a payload: the items as marshal
    bytes, or what went wrong as UTF-8. The parent keeps the bytes until the walk wants the
    items (they are a third of the objects' size). A page that cannot be extracted fails
    alone, and the child goes on with the next job.
    """
    while (frame := read_frame(jobs)) is not None:
        job_id, wire = frame
        try:
            payload, ok = (
                marshal.dumps(items_to_wire(listing_items(ListingJob.from_wire(wire)))),
                True,
            )
        except Exception as exc:  # reported to the parent as that page's ExtractError
            payload, ok = f"{type(exc).__name__}: {exc}".encode(), False
        answers.write(ANSWER_HEADER.pack(len(payload), job_id, ok) + payload)
        answers.flush()


if __name__ == "__main__":
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break the answers' framing
    serve(sys.stdin.buffer, answers)
