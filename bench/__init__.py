"""Benchmarks: each module is one command that prints a table (see docs/performance.md).

    python -m bench.token_fetch     xkit vs a bare ASGI baseline, SQLite and PostgreSQL
    python -m bench.api_routes      five Platform API routes: req/s, p50, p99, timeouts
    python -m bench.scale           the same fetch with 1k / 100k / 1M connections seeded
    python -m bench.stampede        1,000 expired connections refreshed through 3 servers
    python -m bench.connect         complete OAuth flows per second against the emulator
    python -m bench.webhook_workers N ``xkit worker`` processes emptying a webhook outbox
    python -m bench                 all of the above

They run from the repository root (they reuse the test emulators in ``tests/``) and need
``pip install -e '.[bench]'`` and Debian's ``wrk`` (``apt-get install wrk``).
"""
