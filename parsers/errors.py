"""The parsers' own error: a file that claims to be a document but cannot be read as one."""

from __future__ import annotations

from bot.errors import HrbotError


class UnreadableDocument(HrbotError):
    """The bytes are not a readable .docx (not a zip, no main document part, broken XML, too large).

    str(error) is a short Simplified-Chinese sentence fit for HR and for the sender.
    """
