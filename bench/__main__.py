"""``python -m bench``: every benchmark, one after the other (about 20 minutes).

``XKIT_BENCH_SECONDS`` sets the length of each timed wrk run (default 10).
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("token_fetch", "cpu_per_fetch", "api_routes", "scale", "stampede", "connect",
              "webhook_workers", "workers", "mail")


def main() -> int:
    if sys.argv[1:]:
        print(__doc__.strip())
        print("\nOne at a time, with its own options: python -m bench.<name> --help, where "
              f"<name> is one of {', '.join(BENCHMARKS)}.")
        return 0 if sys.argv[1:] in (["-h"], ["--help"]) else 2
    failed = []
    for name in BENCHMARKS:
        print(f"\n===== python -m bench.{name} =====", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"],
                          check=False).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
