"""In-repo emulators of third-party providers, used by xkit's end-to-end tests.

Each emulator is a small Starlette app that serves HTTPS on a free port, follows the provider's
documented behaviour, and exposes a JSON control API under ``/_emulator/`` so that a test in
another process can set it up, inject faults and read what happened.
"""
