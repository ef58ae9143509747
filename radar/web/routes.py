"""The review page's endpoints. GETs only read; every POST passes the CSRF check first.

Decisions go through storage.review.set_state/undo, exactly as `radar review` does, then
the feeds are rewritten so the public feed follows at once; digests read the same states.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from radar.errors import RadarError
from radar.publish import write_feeds
from radar.status import status_rows
from radar.web.accounts import current_editor
from radar.web.queue import STATE_LABELS, QueueQuery, load_queue
from radar.web.security import CSRF_FIELD, csrf_problem, csrf_token
from storage.models import ReviewState
from storage.queries import recent_errors
from storage.review import ReviewError, set_state, undo

if TYPE_CHECKING:
    from starlette.datastructures import FormData
    from starlette.requests import Request

    from radar.web.accounts import EditorInfo
    from radar.web.app import WebSettings

log = logging.getLogger(__name__)

ACTIONS = {
    "accept": (ReviewState.ACCEPTED, "godkendt"),
    "dismiss": (ReviewState.DISMISSED, "afvist"),
    "duplicate": (ReviewState.DUPLICATE, "markeret som dublet"),
    "undo": (ReviewState.NEW, "sat tilbage til ny"),
}
MAX_IDS = 100  # a page holds 25; the undo list must fit in the session cookie
HEALTH = {"ok": "i orden", "degraded": "svækket", "failing": "fejler", "recovered": "kommet sig"}
RUN_STATUS = {
    "never run": "aldrig kørt",
    "baseline": "basislinje",
    "ok": "ok",
    "unchanged": "uændret",
    "partial": "delvis",
    "suspect": "mistænkelig",
    "failed": "fejlet",
    "crashed": "afbrudt",
    "running": "kører",
}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("user", request.session.get("user"))
    context["csrf_token"] = csrf_token(request)
    context["csrf_field"] = CSRF_FIELD
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    return response


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


async def current(request: Request) -> EditorInfo | None:
    """The logged-in editor, if the session names one who is still active, same password."""
    username = request.session.get("user")
    if not isinstance(username, str):
        return None
    editor = await run_in_threadpool(current_editor, request.app.state.engine, username)
    if editor is None or not editor.active or editor.stamp != request.session.get("stamp"):
        request.session.clear()
        return None
    return editor


def _to_login(request: Request) -> Response:
    return RedirectResponse("/login", status_code=303)


async def checked_form(request: Request) -> FormData:
    """The POSTed form, or 403 if it fails the CSRF check."""
    form = await request.form(max_files=0, max_fields=MAX_IDS + 20)
    problem = csrf_problem(
        request, form.get(CSRF_FIELD), trusted_origins=settings_of(request).trusted_origins
    )
    if problem:
        log.warning("refused POST %s: %s", request.url.path, problem)
        raise HTTPException(403, "Forespørgslen blev afvist (CSRF-kontrol).")
    return form


async def queue(request: Request) -> Response:
    if await current(request) is None:
        return _to_login(request)
    query = QueueQuery.parse(request.query_params)
    page = await run_in_threadpool(
        load_queue, request.app.state.engine, request.app.state.config, query
    )
    flash = request.session.pop("flash", None)
    return render(request, "queue.j2", page=page, states=STATE_LABELS, flash=flash)


async def decide(request: Request) -> Response:
    form = await checked_form(request)
    editor = await current(request)
    if editor is None:
        return _to_login(request)
    back = _back(form.get("back"))
    action = str(form.get("action", ""))
    try:
        ids = list(dict.fromkeys(int(str(value)) for value in form.getlist("item")))[:MAX_IDS]
        original = str(form.get("duplicate_of") or "").strip().lstrip("#")
        duplicate_of = int(original) if action == "duplicate" and original else None
    except ValueError:
        return _flash_back(request, back, "Ugyldigt element-nummer.", error=True)
    if action not in ACTIONS:
        return _flash_back(request, back, "Ukendt handling.", error=True)
    if not ids:
        return _flash_back(request, back, "Vælg mindst ét element.", error=True)
    if action == "duplicate" and duplicate_of is None:
        return _flash_back(request, back, "Angiv nummeret på originalen.", error=True)
    try:
        await run_in_threadpool(_decide, request, ids, action, duplicate_of, editor.username)
    except ReviewError as exc:
        message = f"Ikke gemt: tjek numrene ({exc})."
        return _flash_back(request, back, message, error=True)
    feeds_ok = await run_in_threadpool(_rewrite_feeds, request)
    text = f"{len(ids)} {'element' if len(ids) == 1 else 'elementer'} {ACTIONS[action][1]}."
    if not feeds_ok:
        text += " Feeds kunne ikke skrives; se serverens log."
    return _flash_back(request, back, text, error=not feeds_ok, undo=action != "undo", ids=ids)


def _decide(
    request: Request, ids: list[int], action: str, duplicate_of: int | None, username: str
) -> None:
    with Session(request.app.state.engine) as session:
        if action == "undo":
            undo(session, ids)
        else:
            state = ACTIONS[action][0]
            set_state(session, ids, state, duplicate_of=duplicate_of, by=username)
        session.commit()
    log.info("editor %s: %s %s", username, action, ", ".join(map(str, ids)))


def _rewrite_feeds(request: Request) -> bool:
    # One writer at a time: each reads after taking the lock, so the last file written
    # always holds the latest decisions, even when two editors decide at once.
    try:
        with request.app.state.feeds_lock:
            write_feeds(
                request.app.state.engine,
                request.app.state.config,
                out_dir=settings_of(request).feeds_out,
            )
    except (OSError, RadarError, ValueError):
        log.exception("could not rewrite the feeds after a decision")
        return False
    return True


def _back(value: object) -> str:
    """Where to return after a POST: a query string of the queue, never another site."""
    text = str(value or "")
    return "/?" + text if text and "\n" not in text and "\r" not in text else "/"


def _flash_back(
    request: Request,
    back: str,
    text: str,
    *,
    error: bool = False,
    undo: bool = False,
    ids: list[int] | None = None,
) -> Response:
    request.session["flash"] = {"text": text, "error": error, "undo": ids if undo else []}
    return RedirectResponse(back, status_code=303)


async def sources(request: Request) -> Response:
    if await current(request) is None:
        return _to_login(request)
    engine, config = request.app.state.engine, request.app.state.config
    rows = await run_in_threadpool(status_rows, engine, config)
    errors = await run_in_threadpool(_recent_errors, engine)
    return render(
        request, "sources.j2", rows=rows, errors=errors, health=HEALTH, run_status=RUN_STATUS
    )


def _recent_errors(engine: Any) -> dict[str, list[Any]]:
    with Session(engine) as session:
        return recent_errors(session)


async def not_found(request: Request, exc: Exception) -> Response:
    return render(request, "error.j2", 404, message="Siden findes ikke.")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return render(request, "error.j2", 405, message="Den handling er ikke tilladt her.")


async def forbidden(request: Request, exc: Exception) -> Response:
    detail = getattr(exc, "detail", "Adgang nægtet.")
    return render(request, "error.j2", 403, message=detail)
