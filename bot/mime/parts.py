"""What a MIME part is, from its type, disposition and parameters: its file name, and whether it is the mail's text.

One rule for both readers of a message's structure: bot.intake.decode (the MIME headers) and
bot.sources.imap_structure (IMAP BODYSTRUCTURE, for mail whose body is never downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.mime.names import clean_name, decode_words, param_text

@dataclass(frozen=True)
class PartName:
    filename: str | None  # as the sender's client meant it; None when the part has no name
    body_text: bool  # the mail's own text: no attachment candidate
    inline: bool  # Content-Disposition: inline


def name_part(content_type: str, disposition: str, type_params: dict[str, str], disposition_params: dict[str, str],
              top: bool, hint: str | None) -> PartName:
    """Name and classify one leaf. content_type and disposition lower-cased ("" when absent); params by
    lower-cased name. Content-Disposition's filename wins over Content-Type's name. An unnamed
    text/plain or text/html leaf is the mail's text unless marked as an attachment below the top, and so
    is a multipart leaf (a multipart whose boundary never came is read as one leaf)."""
    name = None
    for found, key in ((disposition_params, "filename"), (type_params, "name")):
        name = clean_name(param_text(found, key, hint))
        if name:
            break
    text = content_type in ("text/plain", "text/html") or content_type.startswith("multipart/")
    return PartName(name, name is None and text and (disposition != "attachment" or top), disposition == "inline")


def forward_name(subject: str, subject_charset: str | None, description: str, hint: str | None) -> str:
    """A forwarded message without a file name: its subject plus .eml (the inner message's own charset
    decodes a raw 8-bit subject), else the part's description, else message.eml."""
    found = decode_words(subject, subject_charset or hint).strip()
    found = found or decode_words(description, hint).strip()
    return clean_name(found + ".eml") or "message.eml"
