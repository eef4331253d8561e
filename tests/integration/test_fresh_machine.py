"""The two README commands on a machine that has only the image's toolchain: no uv on PATH.

`make` itself bootstraps uv (pinned, from PyPI, into the cache directory) before any target that
needs it; this runs that path for real with an empty cache directory and a PATH without uv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_make_installs_its_own_pinned_uv_when_the_machine_has_none(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(sys.executable)
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None, "the test needs a PATH without uv"
    cache = tmp_path / "cache"
    # The machine's own settings (pip's index and certificates) stay; nothing that points at a uv does.
    env = {name: value for name, value in os.environ.items() if name not in {"UV", "VIRTUAL_ENV", "MAKEFLAGS"}}
    env.update({"PATH": path, "PARTNERAPP_CACHE_DIR": str(cache)})

    planned = subprocess.run(
        ["make", "-n", "sync", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=170, check=False
    )

    assert planned.returncode == 0, planned.stderr
    uv = next((cache / "tools").glob("uv-*/bin/uv"))
    assert f"{uv} sync --frozen" in planned.stdout
    assert "tools/bootstrap.sh up" in planned.stdout
    version = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("uv ")
