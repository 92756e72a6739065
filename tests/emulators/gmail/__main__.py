"""Run the emulator: ``python -m tests.emulators.gmail --port N --cert C --key K``."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulators.gmail",
        description="Emulate Google OAuth and the Gmail API over HTTPS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server private key (PEM)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, ssl_certfile=str(args.cert),
                ssl_keyfile=str(args.key), log_level=args.log_level, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
