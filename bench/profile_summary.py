"""Where a py-spy profile (`--format raw`, collapsed stacks) spends its samples.

    uv run python bench/profile_summary.py bench/results/profiles/activity-kafka.txt [--top 25]

Counts the event loop's thread only (the service's work; worker threads idle in a queue are left
out) and prints how much of it was idle (waiting in the event loop: uvloop's run loop is native,
so the top Python frame is then `Runner.run`), then the share of samples per function, inclusive
(the function or anything it called is on the stack) and self (the function is on top).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    short = path.split("site-packages/")[-1].split("/src/")[-1]
    return f"{match['function']} ({short})"


def summarize(path: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames or any(f.startswith(("Thread._bootstrap", "WorkerThread.run")) for f in frames):
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    idle = sum(n for name, n in own.items() if name.startswith(("Runner.run (", "select (", "_run_once (")))
    lines = [f"{path.name}: {total} samples of the event loop's thread; idle {100 * idle / max(total, 1):.0f} %"]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    sys.stdout.write(summarize(args.profile, args.top))
