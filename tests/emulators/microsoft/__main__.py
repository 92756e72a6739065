"""Run the emulator: ``python -m tests.emulators.microsoft --port N --cert C --key K``.

``--state-file`` names a JSON seed (tenants, apps, users with messages, settings) applied at
start-up, the same document ``POST /_emulator/seed`` accepts. State otherwise lives in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..serving import https_arguments, serve_https
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = https_arguments(
        "python -m tests.emulators.microsoft",
        "Emulate the Microsoft identity platform and Graph mail over HTTPS.",
    )
    parser.add_argument("--state-file", type=Path, help="JSON seed to load at start-up")
    args = parser.parse_args(argv)
    seed = json.loads(args.state_file.read_text()) if args.state_file else None
    serve_https(create_app(seed=seed), args)


if __name__ == "__main__":
    main()
