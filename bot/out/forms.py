"""The blank forms as mail attachments, for the kickoff and the reminders: which answer which item, built once."""

from __future__ import annotations

from functools import lru_cache

from bot.season.items import TABLE
from bot.out.outbox import FileAttachment

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def form_names(items: list[str]) -> tuple[str, ...]:
    """The file names of the blank forms that answer these items, each once, in the table's order.

    Names only: the forms themselves are built when a mail is composed, never for a dry run.
    """
    wanted = {TABLE[i].form for i in items if i in TABLE}
    return tuple(name for name in dict.fromkeys(i.form for i in TABLE.values() if i.form) if name in wanted)


def blank_form_attachments(names: tuple[str, ...] | None = None) -> list[FileAttachment]:
    """The blank forms as attachments: those named (all with None), in the table's order."""
    return [FileAttachment(name, data, DOCX) for name, data in _blank_forms() if names is None or name in names]


@lru_cache(maxsize=1)
def _blank_forms() -> tuple[tuple[str, bytes], ...]:
    # Built once per process (a docx takes a while to make, and they never change); imported here because
    # python-docx is heavy and most runs (an idle poll) attach no form.
    from parsers.forms import blank_forms

    return tuple(blank_forms().items())
