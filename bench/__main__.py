"""Run every benchmark, each in a process of its own (so memory figures do not mix):

python -m bench            # all of them
python -m bench stack      # only bench/bench_stack.py
"""

import subprocess
import sys
from pathlib import Path


def main() -> int:
    names = sys.argv[1:] or sorted(
        p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py")
    )
    failed = 0
    for name in names:
        print(f"\n== bench_{name} ==", flush=True)
        failed |= subprocess.call([sys.executable, "-m", f"bench.bench_{name}"])
    return failed


if __name__ == "__main__":
    sys.exit(main())
