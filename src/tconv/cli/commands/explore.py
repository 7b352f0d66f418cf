"""``tconv explore``: the lecture as an interactive page in the browser, computed by tconv."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import sys
import webbrowser

from ...explore import DEFAULT_HOST, DEFAULT_PORT, StateError, compute, make_server, parse_state
from .._common import UsageError, add_command, int_in

EXAMPLE = """examples:
  tconv explore
  tconv explore 'op=conv&x=0,0,1,0,0,0,0&w=1,2,3'      (the lecture's conv1d example)
  tconv explore 'op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=1'
  tconv explore --port 0 --no-browser                   (a free port; open the URL yourself)

QUERY is the page's state, as in its URL: op, x, w (',' between values, ';' between
rows for 2-D), stride, padding (an int, lo:hi pairs, same or valid), dilation,
output_padding, output_size and convention (pytorch, tf, keras, jax, onnx).
Ctrl-C stops the server."""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "explore",
        run,
        help="the lecture as an interactive page in your browser, computed by tconv",
        description="Start a local web server that computes with tconv and open its page: "
        "convolutions and transposed convolutions with your input, kernel, stride, padding, "
        "dilation and output_padding, shown as scatter, gather, matrix, sizes, artifacts "
        "and code, linked by hover. The page's state is its URL, so links reproduce a view. "
        "The server uses only Python's standard library and serves only the page's own files.",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "query",
        nargs="?",
        default="",
        metavar="QUERY",
        help="the state to open, e.g. 'op=conv&x=0,0,1,0,0,0,0&w=1,2,3' (default: the "
        "lecture's third example)",
    )
    p.add_argument(
        "--port",
        type=int_in(0, 65535),
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; another "
        "address makes the page reachable from other machines and prints a warning)",
    )
    p.add_argument(
        "--no-browser",
        action="store_true",
        help="print the URL only; do not open a browser",
    )
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    query = args.query.strip().lstrip("?")
    if query:
        try:
            state = parse_state(query)
            compute(state)  # tconv's own checks of the combination, as the page would show
            query = state.query
        except StateError as exc:
            raise UsageError(f"argument QUERY: {exc}") from None
    host = args.host.strip()
    if not host:
        raise UsageError("argument --host: expected an address, got an empty one")
    try:
        srv = make_server(host, args.port, verbose=args.verbose)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"argument --port: port {args.port} on {host} is already in use (another "
                "tconv explore?); choose another with --port N, or --port 0 for a free one"
            ) from None
        raise UsageError(f"argument --host: cannot listen on {host}:{args.port}: {exc}") from None
    url = srv.url(query)
    if not _loopback(host):
        print(
            f"tconv explore: warning: listening on {host}, not on this machine only: anyone "
            "who can reach it can use the page",
            file=sys.stderr,
        )
    print(f"tconv explore: serving {url}", flush=True)
    print("tconv explore: press Ctrl-C to stop", flush=True)
    try:
        if not args.no_browser:
            webbrowser.open(url)
        srv.serve_forever()
    except KeyboardInterrupt:
        print("tconv explore: stopped", flush=True)
    finally:
        srv.server_close()
    return 0
