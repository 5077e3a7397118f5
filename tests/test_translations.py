"""French is the default language: every message has a French translation."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

LOCALE = Path(__file__).resolve().parent.parent / "locale"
FRENCH = LOCALE / "fr" / "LC_MESSAGES" / "django.po"


def entries(po: Path) -> list[str]:
    text = re.sub(r'(?m)^(".*")\n(#[:.,|])', r"\1\n\n\2", po.read_text("utf-8"))
    return [block for block in text.split("\n\n")[1:] if "msgid " in block]


def test_every_french_message_is_translated_and_none_is_fuzzy() -> None:
    blocks = entries(FRENCH)
    assert len(blocks) > 100
    untranslated = [
        block.split("msgid ", 1)[1].split("\n")[0]
        for block in blocks
        if re.search(r'(?m)^msgstr(\[\d\])? ""\n(?!")', block + "\n")
    ]
    fuzzy = [block for block in blocks if re.search(r"(?m)^#,.*\bfuzzy\b", block)]
    assert untranslated == [], "run `make messages` then translate locale/fr"
    assert fuzzy == []


@pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="gettext's msgfmt is missing"
)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_catalogues_compile_with_their_placeholders_intact(language: str) -> None:
    """msgfmt --check refuses a translation that drops or renames a placeholder."""
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_compiled_french_catalogue_is_in_use() -> None:
    with translation.override("fr"):
        assert translation.gettext("Log in") == "Se connecter"
    with translation.override("en"):
        assert translation.gettext("Log in") == "Log in"
