"""What every emulator's ``__main__`` shares: the HTTPS command line and serving an app."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp


def https_arguments(prog: str, description: str) -> argparse.ArgumentParser:
    """``--host``, ``--port``, ``--cert``, ``--key`` and ``--log-level``; add your own."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port to serve HTTPS on")
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server private key (PEM)")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser


def serve_https(app: ASGIApp, args: argparse.Namespace) -> None:
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=str(args.cert),
        ssl_keyfile=str(args.key),
        log_level=args.log_level,
        timeout_graceful_shutdown=2,
    )
