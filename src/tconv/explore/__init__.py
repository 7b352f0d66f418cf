"""``tconv explore``: the lecture as an interactive page, computed by tconv.

A local web server (the standard library's, no dependency) serves a plain HTML,
CSS and JavaScript page (package data, no build step, no CDN) and a small JSON API;
the page draws and handles input, and every number on it comes from tconv
(:mod:`tconv.explore.api`). The state of the page is its URL's query string, e.g.
``?op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=1``.

>>> from tconv.explore import compute, parse_state
>>> compute(parse_state("op=conv_transpose&x=2,3,0,-1&w=1,2,-1"))["y"]
[[2.0, 7.0, 4.0, -4.0, -2.0, 1.0]]
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable

from .api import CAPS, State, StateError, compute, parse_state, presets
from .server import DEFAULT_HOST, DEFAULT_PORT, ExploreServer, make_server

__all__ = [
    "CAPS",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ExploreServer",
    "State",
    "StateError",
    "compute",
    "make_server",
    "parse_state",
    "presets",
    "serve",
]


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    query: str = "",
    *,
    open_browser: bool = True,
    verbose: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the explorer until Ctrl-C (``KeyboardInterrupt`` is caught: a clean stop).

    ``query`` (a page state, validated first) is the state the printed URL and the
    browser open; ``port=0`` picks a free port. Raises :class:`StateError` for a bad
    query and ``OSError`` when the address cannot be bound.
    """
    if query:
        query = parse_state(query).query
    srv = make_server(host, port, verbose=verbose)
    url = srv.url(query)
    echo(f"tconv explore: serving {url}  (Ctrl-C stops it)")
    try:
        if open_browser:
            webbrowser.open(url)
        srv.serve_forever()
    except KeyboardInterrupt:
        echo("tconv explore: stopped")
    finally:
        srv.server_close()
