"""Run the emulator: ``python -m tests.emulators.microsoft --port N --cert C --key K``.

``--state-file`` names a JSON seed (tenants, apps, users with messages, settings) applied at
start-up, the same document ``POST /_emulator/seed`` accepts. State otherwise lives in memory.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulators.microsoft",
        description="Emulate the Microsoft identity platform and Graph mail over HTTPS.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port to serve HTTPS on")
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server private key (PEM)")
    parser.add_argument("--state-file", type=Path, help="JSON seed to load at start-up")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    args = parser.parse_args(argv)
    seed = json.loads(args.state_file.read_text()) if args.state_file else None
    uvicorn.run(
        create_app(seed=seed),
        host=args.host,
        port=args.port,
        ssl_certfile=str(args.cert),
        ssl_keyfile=str(args.key),
        log_level=args.log_level,
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
