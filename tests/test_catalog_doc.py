"""docs/services.md, the page a school reviews, says what the catalog says: it is written from it."""

from __future__ import annotations

from click.testing import CliRunner

from kiosk import ROOT
from kiosk.cli import main
from kiosk.domain.catalog import load_catalog
from kiosk.domain.catalog_doc import render_markdown

PAGE = ROOT / "docs" / "services.md"


def test_the_page_in_the_repository_is_the_catalogs() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_markdown(load_catalog()), (
        "run: kiosk catalog-doc -o docs/services.md"
    )


def test_every_service_source_and_open_question_is_on_the_page() -> None:
    catalog = load_catalog()
    page = render_markdown(catalog)
    for service in catalog.services:
        assert f"## {service.code}: {service.name.en}" in page
        section = page.split(f"## {service.code}: ")[1].split("\n## ")[0]
        for item in service.to_confirm:
            assert f"- {item}" in section
        for channel in service.channels:
            if channel.unconfirmed:
                assert "no public source found" in section, service.code
    for source in catalog.sources.values():
        assert f"| {source.key} | {source.label.en} |" in page
        assert source.url is None or source.url in page


def test_the_command_writes_the_page(tmp_path) -> None:
    out = tmp_path / "services.md"
    result = CliRunner().invoke(main, ["catalog-doc", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render_markdown(load_catalog())
