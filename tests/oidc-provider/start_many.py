#!/usr/bin/env python3
"""Starts server.mjs many times, PARALLEL at once for ROUNDS rounds, and
reports any start that printed no `listening on` line within 20 s (left
running, so `gdb -p PID -batch -ex "thread apply all bt"` can say where it
is stuck). How a Node.js 20 deadlock in key generation was found; see
README.md.

    python3 tests/oidc-provider/start_many.py ROUNDS PARALLEL   # NODE=/path/to/node to pick one
"""
import os
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE = os.environ.get("NODE", "node")
stuck = []


def start_once():
    child = subprocess.Popen(
        [NODE, "server.mjs", "--port", "0"],
        cwd=HERE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    first = {}
    reader = threading.Thread(target=lambda: first.update(line=child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(20)
    if not first.get("line", b"").startswith(b"listening on"):
        stuck.append(child.pid)
        return
    child.stdin.close()
    child.wait(10)


def main():
    rounds, parallel = int(sys.argv[1]), int(sys.argv[2])
    for _ in range(rounds):
        starts = [threading.Thread(target=start_once) for _ in range(parallel)]
        for start in starts:
            start.start()
        for start in starts:
            start.join()
        if stuck:
            break
    print(f"{rounds * parallel} starts at most, stuck: {stuck or 'none'}")
    return 1 if stuck else 0


if __name__ == "__main__":
    sys.exit(main())
