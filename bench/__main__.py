"""``python -m bench``: every benchmark, one after the other (about 15 minutes).

``XKIT_BENCH_SECONDS`` sets the length of each timed wrk run (default 10).
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("token_fetch", "scale", "stampede", "connect")


def main() -> int:
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
