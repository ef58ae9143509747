"""The editors' review page (`radar web`): triage new items in the browser.

A small Starlette application with server-rendered Jinja2 templates. It only reads through
storage.queries and decides through storage.review, as `radar review` does, so the
public feed and the digests follow the page exactly as they follow the command line.

- app.py: settings, middleware and routes put together (`create_app`);
- routes.py: the queue, decisions and sources; login.py: logging in and out;
- queue.py: what the queue page shows;
- accounts.py: editors and their Argon2 password hashes;
- security.py: security headers, CSRF checks and the login throttle.

Nothing is imported here: every `radar` command registers `radar user`, which needs only
accounts.py, and must not pay for Starlette and the routes at start-up.
"""
