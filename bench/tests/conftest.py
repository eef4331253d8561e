"""The benchmarks' modules import each other by name (they run as `python bench/<script>.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[1])
if BENCH not in sys.path:
    sys.path.append(BENCH)
