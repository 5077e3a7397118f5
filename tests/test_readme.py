"""The README documents every variable the settings read, and the two commands."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from config import env

README = Path(__file__).resolve().parent.parent / "README.md"


def read_variables() -> set[str]:
    """Every variable read: the settings', and the web server's (config/server.py,
    read when the server is built)."""
    from config import server

    server.server()
    return env.READ


def test_every_variable_the_settings_read_is_in_the_readme_table() -> None:
    documented = set(
        re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README.read_text(), re.M)
    )
    missing = sorted(read_variables() - documented)
    assert not missing, f"README.md does not document: {missing}"


def test_the_readme_documents_no_variable_the_settings_ignore() -> None:
    documented = set(
        re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README.read_text(), re.M)
    )
    assert documented - read_variables() == set()


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.read_text()[:2000]
    assert "make run" in head
    assert "make test" in head


def test_every_silenced_check_is_explained_in_the_readme() -> None:
    text = README.read_text()
    for check in settings.SILENCED_SYSTEM_CHECKS:
        assert f"| `{check}` |" in text
