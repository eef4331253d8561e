"""The hardware compatibility list (R-60): the packaged data file is valid and complete, the filters and
sort orders select what they say, bad filters name their field, a broken file fails at load, and the PDF
is a landscape A4 document of the selected terminals. Pure logic, no network."""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from gateway.adapters.hardware_catalogue import CatalogueError, HardwareCatalogue, parse
from gateway.domain.hardware import (
    FEATURE_LABELS,
    SORT_VALUES,
    SUPPORT_LABELS,
    CompatibilityList,
    Feature,
    FeatureSupport,
    HardwareQuery,
    InvalidFilter,
    OperatingSystem,
    Sort,
    SortKey,
    Support,
    Terminal,
    version_key,
)

pytestmark = pytest.mark.unit

EXPECTED_MAKERS = {"Apple", "Datalogic", "Honeywell", "Samsung", "Sunmi", "Urovo", "Zebra"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources.files("gateway") / "data" / "hardware.json").read_text(encoding="utf-8")
    )
    return data


@pytest.fixture(scope="module")
def catalogue() -> HardwareCatalogue:
    return HardwareCatalogue.load()


def terminal(id_: str = "acme-x1", **overrides: Any) -> Terminal:
    values: dict[str, Any] = {
        "id": id_,
        "maker": "Acme",
        "model": "X1",
        "os": OperatingSystem.ANDROID,
        "os_versions": ("13",),
        "tested_app_version": "7.2.0",
        "features": {f: FeatureSupport(Support.SUPPORTED) for f in Feature},
    }
    return Terminal(**(values | overrides))


def pdf_text(document: bytes) -> str:
    """The text a reader gets out of the document (its fonts are embedded subsets, so the content
    streams hold glyph numbers, not characters)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def page_count(document: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", document))


# ------------------------------------------------------------------------------------- the data file


def test_the_data_file_is_packaged_and_loads(catalogue: HardwareCatalogue) -> None:
    assert (resources.files("gateway") / "data" / "hardware.json").is_file()
    compatibility = catalogue.compatibility
    assert 20 <= len(compatibility.terminals) <= 40
    assert isinstance(compatibility.updated, date)
    assert compatibility.version.strip()
    assert set(compatibility.makers) == EXPECTED_MAKERS
    assert {t.os for t in compatibility.terminals} == set(OperatingSystem)


def test_every_terminal_has_a_result_for_every_feature_and_partial_ones_a_note(catalogue: HardwareCatalogue) -> None:
    for t in catalogue.compatibility.terminals:
        assert list(t.features) == list(Feature), t.id
        assert all(version_key(v) for v in t.os_versions)
        for feature, result in t.features.items():
            assert result.support is not Support.PARTIAL or result.note, (t.id, feature)


def test_the_data_file_has_no_unknown_keys_and_ids_match_the_terminals(raw: dict[str, Any]) -> None:
    assert set(raw) == {"version", "updated", "terminals"}
    ids = [t["id"] for t in raw["terminals"]]
    assert len(ids) == len(set(ids))
    for t in raw["terminals"]:
        assert t["id"].startswith(t["maker"].lower()), t["id"]
        assert set(t["features"]) == {f.value for f in Feature}, t["id"]


def test_every_feature_and_level_has_an_english_and_a_spanish_label() -> None:
    assert set(FEATURE_LABELS) == set(Feature)
    assert set(SUPPORT_LABELS) == set(Support)
    assert Feature.BARCODE_SCANNER.labels.text("es") == "Lector de códigos de barras"
    assert Feature.BARCODE_SCANNER.labels.text("en") == "Barcode scanner"
    assert Support.SUPPORTED.labels.text("es") == "Sí"


# ------------------------------------------------------------------------------------- filters


def test_no_filter_selects_everything_sorted_by_maker_then_model(catalogue: HardwareCatalogue) -> None:
    selected = catalogue.select()
    assert len(selected) == len(catalogue.compatibility.terminals)
    keys = [(t.maker.casefold(), t.model.casefold()) for t in selected]
    assert keys == sorted(keys)


def test_maker_and_model_match_exactly_ignoring_case_and_spaces(catalogue: HardwareCatalogue) -> None:
    zebra = catalogue.select(HardwareQuery.parse(maker="  zEBRA "))
    assert zebra and {t.maker for t in zebra} == {"Zebra"}
    assert [t.model for t in catalogue.select(HardwareQuery.parse(model="ct45  xp"))] == ["CT45 XP"]
    assert catalogue.select(HardwareQuery.parse(maker="Zeb")) == ()


def test_os_filter(catalogue: HardwareCatalogue) -> None:
    ios = catalogue.select(HardwareQuery.parse(os="iOS"))
    assert ios and {t.maker for t in ios} == {"Apple"}
    android = catalogue.select(HardwareQuery.parse(os="android"))
    assert len(ios) + len(android) == len(catalogue.compatibility.terminals)


def test_search_is_a_substring_of_maker_model_or_os(catalogue: HardwareCatalogue) -> None:
    assert {t.model for t in catalogue.select(HardwareQuery.parse(q="xcover"))} == {
        "Galaxy XCover6 Pro",
        "Galaxy XCover7",
    }
    assert {t.maker for t in catalogue.select(HardwareQuery.parse(q="samsung galaxy tab"))} == {"Samsung"}
    by_os = catalogue.select(HardwareQuery.parse(q="ios 26"))
    assert by_os and all(t.os is OperatingSystem.IOS and "26" in t.os_versions for t in by_os)
    assert catalogue.select(HardwareQuery.parse(q="nokia")) == ()


def test_features_must_all_be_fully_supported(catalogue: HardwareCatalogue) -> None:
    nfc = catalogue.select(HardwareQuery.parse(features=["nfc"]))
    assert nfc and all(t.features[Feature.NFC].support is Support.SUPPORTED for t in nfc)
    assert not any(t.maker == "Apple" for t in nfc), "partial support does not count"
    both = catalogue.select(HardwareQuery.parse(features=["NFC", "biometric"]))
    assert both and all(t.supports(Feature.NFC) and t.supports(Feature.BIOMETRIC) for t in both)
    assert set(both) < set(nfc)
    assert catalogue.select(HardwareQuery.parse(features=["barcode-scanner"])) == catalogue.select(
        HardwareQuery(features=frozenset({Feature.BARCODE_SCANNER}))
    )


def test_filters_combine(catalogue: HardwareCatalogue) -> None:
    selected = catalogue.select(HardwareQuery.parse(maker="Samsung", os="android", features=["biometric"], q="xcover"))
    assert [t.model for t in selected] == ["Galaxy XCover6 Pro"]


def test_blank_filters_are_ignored() -> None:
    assert HardwareQuery.parse(maker=" ", model="", os=" ", q="", features=[""], sort="") == HardwareQuery()


# ------------------------------------------------------------------------------------- sorting


def test_sort_orders(catalogue: HardwareCatalogue) -> None:
    def select(sort: str) -> tuple[Terminal, ...]:
        return catalogue.select(HardwareQuery.parse(sort=sort))

    by_model = [t.model.casefold() for t in select("model")]
    assert by_model == sorted(by_model)
    assert select("-maker")[0].maker == "Zebra"
    newest = [version_key(t.latest_os_version) for t in select("-os_version")]
    assert newest == sorted(newest, reverse=True)
    oldest = select("os_version")
    assert version_key(oldest[0].latest_os_version) < version_key("13"), "9 sorts before 13 (numbers, not text)"
    by_os = [t.os.value for t in select("os")]
    assert by_os == sorted(by_os)
    apps = [version_key(t.tested_app_version) for t in select("app_version")]
    assert apps == sorted(apps)


def test_sort_parsing() -> None:
    assert Sort.parse(None) == Sort(SortKey.MAKER, descending=False)
    assert Sort.parse("-OS_VERSION") == Sort(SortKey.OS_VERSION, descending=True)
    assert str(Sort.parse("-model")) == "-model"
    assert {str(Sort.parse(v)) for v in SORT_VALUES} == set(SORT_VALUES)


# ------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"features": ["nfc", "teleport"]}, "feature"),
        ({"sort": "price"}, "sort"),
        ({"sort": "--maker"}, "sort"),
        ({"os": "windows"}, "os"),
        ({"maker": "x" * 101}, "maker"),
        ({"model": "x" * 101}, "model"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_bad_filters_name_their_field(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        HardwareQuery.parse(**arguments)
    assert raised.value.field == field
    assert str(raised.value)


def test_an_unknown_feature_lists_the_known_ones() -> None:
    with pytest.raises(InvalidFilter, match="barcode_scanner"):
        HardwareQuery.parse(features=["teleport"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"features": {Feature.NFC: FeatureSupport(Support.SUPPORTED)}}, "no result for"),
        ({"os_versions": ()}, "at least one"),
        ({"os_versions": ("13", "13")}, "twice"),
        ({"os_versions": ("Tiramisu",)}, "not a version"),
        ({"tested_app_version": "latest"}, "not a version"),
        ({"maker": " "}, "maker may not be blank"),
        ({"id": "Acme X1"}, "lowercase"),
    ],
)
def test_a_terminal_refuses_incomplete_or_malformed_data(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        terminal(**overrides)


def test_a_partial_result_needs_a_note() -> None:
    with pytest.raises(ValueError, match="note"):
        FeatureSupport(Support.PARTIAL)
    assert FeatureSupport(Support.PARTIAL, "AirPrint only").note == "AirPrint only"


def test_os_versions_are_kept_oldest_first() -> None:
    assert terminal(os_versions=("14", "9", "13.1")).os_versions == ("9", "13.1", "14")


def test_the_list_refuses_duplicates_and_emptiness() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        CompatibilityList("1", date(2026, 1, 1), (terminal(), terminal()))
    with pytest.raises(ValueError, match="listed twice"):
        CompatibilityList("1", date(2026, 1, 1), (terminal("a"), terminal("b")))  # same maker, model and OS
    with pytest.raises(ValueError, match="no terminal"):
        CompatibilityList("1", date(2026, 1, 1), ())


def _break(raw: dict[str, Any], change: Any) -> dict[str, Any]:
    broken = copy.deepcopy(raw)
    change(broken)
    return broken


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["terminals"][0]["features"].update(teleport="supported"), "teleport"),
        (lambda d: d["terminals"][0]["features"].update(nfc="maybe"), "nfc"),
        (lambda d: d["terminals"][0]["features"].pop("gps"), "no result for gps"),
        (lambda d: d["terminals"][0].update(colour="yellow"), "colour"),
        (lambda d: d["terminals"][0].update(os="windows"), "os"),
        (lambda d: d["terminals"][1].update(id=d["terminals"][0]["id"]), "listed twice"),
        (lambda d: d["terminals"][0]["features"].update(nfc={"support": "partial"}), "note"),
        (lambda d: d.pop("updated"), "updated"),
        (lambda d: d.update(updated="yesterday"), "updated"),
        (lambda d: d.update(terminals=[]), "no terminal"),
    ],
)
def test_a_broken_data_file_fails_at_load_saying_why(raw: dict[str, Any], change: Any, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        parse(_break(raw, change))


def test_load_reports_an_unreadable_or_missing_file(tmp_path: Path, raw: dict[str, Any]) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        HardwareCatalogue.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match="cannot read"):
        HardwareCatalogue.load(tmp_path / "bad.json")
    (tmp_path / "good.json").write_text(json.dumps(raw), encoding="utf-8")
    assert len(HardwareCatalogue.load(tmp_path / "good.json").select()) == len(raw["terminals"])


# ------------------------------------------------------------------------------------- the PDF


def test_the_pdf_is_a_landscape_a4_with_title_date_table_notes_and_page_numbers(catalogue: HardwareCatalogue) -> None:
    document = catalogue.pdf()
    assert document.startswith(b"%PDF")
    assert b"/MediaBox [0 0 841.89 595.28]" in document
    text = pdf_text(document)
    assert "hardware compatibility list" in text
    assert catalogue.compatibility.updated.isoformat() in text
    assert all(maker in text for maker in EXPECTED_MAKERS)
    assert "Offline mode" in text and "Partial (1)" in text and "Notes" in text
    pages = page_count(document)
    assert pages >= 1
    assert f"Page {pages} of {pages}" in text, "the last page is numbered `n of n`"


def test_the_pdf_applies_the_filters_and_says_so(catalogue: HardwareCatalogue) -> None:
    document = catalogue.pdf(HardwareQuery.parse(maker="zebra", features=["nfc"]))
    text = pdf_text(document)
    assert "Zebra" in text and "Apple" not in text and "Samsung" not in text
    assert "Filters: maker = zebra; supports NFC" in text
    assert page_count(document) == 1


def test_the_pdf_in_spanish(catalogue: HardwareCatalogue) -> None:
    text = pdf_text(catalogue.pdf(HardwareQuery.parse(os="ios"), language="es"))
    assert "lista de compatibilidad de hardware" in text and "Fabricante" in text and "Parcial" in text
    assert "Sí" in text and "Versión app" in text


def test_the_pdf_of_an_empty_selection_says_nothing_matches(catalogue: HardwareCatalogue) -> None:
    text = pdf_text(catalogue.pdf(HardwareQuery.parse(q="nokia")))
    assert "No tested terminal matches these filters." in text


def test_the_pdf_renders_a_search_in_any_script(catalogue: HardwareCatalogue) -> None:
    """The search filter is typed by the reader: it comes out of the PDF as typed, never as `?`."""
    for q in ("شركة النقل", "עברית", "Ελληνικά", "Łódź", "中文", "🚚", "Привет"):
        text = pdf_text(catalogue.pdf(HardwareQuery.parse(q=q)))
        assert f'search "{q}"' in text, q
        assert "?" not in text, q
