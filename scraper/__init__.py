"""Fetching and extracting: everything that talks to the sources' web servers.

httpx's package import also imports its command-line client, and with it click's and
rich's terminal machinery and pygments (~3 MB and ~30 ms a process here), whenever those
happen to be installed, as they are for `radar`'s own CLI. Radar never runs httpx's
client, so its module is marked absent before httpx is first imported (every import of
httpx in Radar is under this package); httpx then defines a stand-in `httpx.main` that
explains how to install the client. Upstream made this import lazy in the httpx2 fork
(pydantic/httpx2#947).
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
