"""The web app's texts (web/scripts/check-i18n.mjs): every key in Spanish and English with the
same values named, every t("key") of the code defined, no hard-coded text in aria-label, title,
placeholder or alt; and the system notes worded as the server words them (contracts NOTE_TEXTS)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.events.support import NOTE_TEXTS

pytestmark = pytest.mark.unit

WEB = Path(__file__).resolve().parents[2] / "web"
CHECK = WEB / "scripts" / "check-i18n.mjs"
NODE = shutil.which("node")

if NODE is None or not (WEB / "node_modules" / "typescript").is_dir():
    pytest.skip("needs node and web/node_modules (cd web && npm ci)", allow_module_level=True)


def run(web: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, str(web / "scripts" / "check-i18n.mjs"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_apps_texts_are_complete_in_both_languages() -> None:
    result = run(WEB)
    assert result.returncode == 0, result.stderr
    assert "es and en complete" in result.stdout


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    """A copy of the app's sources with one fault of each kind the check must find."""
    copy = tmp_path / "web"
    shutil.copytree(WEB / "src", copy / "src")
    shutil.copytree(WEB / "scripts", copy / "scripts")
    (copy / "node_modules").symlink_to(WEB / "node_modules")
    common = copy / "src" / "i18n" / "common.ts"
    text = common.read_text()
    text = text.replace('  retry: "Retry",\n', "", 1)  # an English key missing
    text = text.replace('other: "Error {{status}}"', 'other: "Error {{code}}"', 1)  # es first: a value renamed
    common.write_text(text)
    app = copy / "src" / "App.tsx"
    app.write_text(
        app.read_text()
        .replace('aria-label={t("navLabel")}', 'aria-label="sections"')
        .replace('t("notFound")', 't("notFund")')
    )
    return copy


def test_the_check_finds_each_kind_of_fault(broken_copy: Path) -> None:
    result = run(broken_copy)
    assert result.returncode == 1
    assert "common:retry is in es but not in en" in result.stderr
    assert "common:problems.other names {{code}} in es but {{status}} in en" in result.stderr
    assert 'src/App.tsx: aria-label="sections" is not translated' in result.stderr
    assert 'src/App.tsx: t("notFund") is in none of common' in result.stderr


def test_the_app_words_system_notes_as_the_server_does() -> None:
    texts = json.loads(run(WEB, "--dump").stdout)
    for code, by_language in NOTE_TEXTS.items():
        for language, template in by_language.items():
            as_i18next = re.sub(r"\{(\w+)\}", r"{{\1}}", template)
            assert texts["support"][language]["notes"][code.value] == as_i18next, (code, language)
