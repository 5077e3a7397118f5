"""Checks on the PDF files attached to agreements and to disbursements, decided
from their content, and how they are stored.

The extension and the bytes must agree (reliability.md §G1): a renamed PNG, an HTML
page called ``x.pdf`` or a truncated download are refused before anything is stored.
What is stored gets a random name (``stored``), never the client's.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.files import File
from django.db.models.fields.files import FieldFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError

NOT_A_PDF_NAME = _("Only PDF files are accepted (a “.pdf” file).")
NOT_A_PDF = _("“{name}” is not a PDF file: its content does not start with “%PDF-”.")
TRUNCATED_PDF = _("“{name}” is not a complete PDF file: it does not end with “%%EOF”.")
MARKUP_IN_PDF = _("“{name}” mixes a PDF header with web page markup: it is refused.")
EMPTY_FILE = _("The file is empty.")
TOO_LARGE = _("The file is larger than {limit}.")

# ISO 32000-1 §7.5.2: the first line is "%PDF-1.n" (2.0 in ISO 32000-2).
HEADER = re.compile(rb"%PDF-[12]\.\d")
# §7.5.5 puts "%%EOF" on the last line; readers accept it within the last 1024 bytes
# (trailing whitespace or a line feed after it is common), and so do we.
TRAILER_WINDOW = 1024
# PDF/HTML polyglots pass the header check; a browser sniffing the body would render
# them. Real PDFs keep their text in compressed streams, not as bare tags up front.
MARKUP = re.compile(rb"<\s*(html|script|body|svg|iframe)\b", re.IGNORECASE)


@dataclass(frozen=True)
class PdfFacts:
    size: int
    sha256: str


def check_pdf(uploaded: File[bytes], *, max_bytes: int) -> PdfFacts:
    """The size and sha256 of ``uploaded`` if it is a whole PDF of at most
    ``max_bytes``; a DomainError on ``file`` otherwise. Leaves the file rewound."""
    name = (uploaded.name or "").rsplit("/", 1)[-1]
    if not name.lower().endswith(".pdf"):
        raise DomainError(str(NOT_A_PDF_NAME), field="file")
    limit = filesizeformat(max_bytes)
    # The declared size first, so an oversize upload is refused without reading it.
    if uploaded.size is not None and uploaded.size > max_bytes:
        raise DomainError(str(TOO_LARGE).format(limit=limit), field="file")

    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        size += len(chunk)
        if size > max_bytes:  # the declared size can lie
            raise DomainError(str(TOO_LARGE).format(limit=limit), field="file")
        digest.update(chunk)
        if len(head) < TRAILER_WINDOW:
            head += chunk[: TRAILER_WINDOW - len(head)]
        tail = (tail + chunk)[-TRAILER_WINDOW:]
    uploaded.seek(0)

    if size == 0:
        raise DomainError(str(EMPTY_FILE), field="file")
    if not HEADER.match(head):
        raise DomainError(str(NOT_A_PDF).format(name=name), field="file")
    if MARKUP.search(head):
        raise DomainError(str(MARKUP_IN_PDF).format(name=name), field="file")
    if b"%%EOF" not in tail:
        raise DomainError(str(TRUNCATED_PDF).format(name=name), field="file")
    return PdfFacts(size=size, sha256=digest.hexdigest())


@contextmanager
def stored(field: FieldFile, uploaded: File[bytes]) -> Iterator[None]:
    """Write ``uploaded`` (checked by ``check_pdf``) into ``field`` under a random
    name, for the block that saves the row; if the block fails, the file is
    deleted again, so a refused insert leaves no orphan behind.

    The client's file name never reaches the storage: it can carry path tricks,
    and personal data ("ordre de paiement M. Dupont.pdf") that storage paths,
    backups and proxy logs would keep; a guessable name is also a guessable URL.
    """
    field.save(f"{uuid.uuid4().hex}.pdf", uploaded, save=False)
    try:
        yield
    except BaseException:
        field.delete(save=False)
        raise
