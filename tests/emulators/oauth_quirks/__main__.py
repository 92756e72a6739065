"""Run the quirk emulator: ``python -m tests.emulators.oauth_quirks --port N --cert C --key K``."""

from __future__ import annotations

from ..serving import https_arguments, serve_https
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = https_arguments(
        "python -m tests.emulators.oauth_quirks",
        "A configurable OAuth 2.0 provider over HTTPS, for provider templates.",
    )
    serve_https(create_app(), parser.parse_args(argv))


if __name__ == "__main__":
    main()
