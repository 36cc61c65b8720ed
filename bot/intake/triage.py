"""Before a body is downloaded: whether it can carry a submission at all, judged from the header block.

A source that can read a message's header block without its body (IMAP) asks `body_wanted` for
each new message and downloads only the bodies it wants; the others reach the intake header-only
(RawMessage.complete False). The answer is no only when the sender, read exactly as decode reads
it (same parser, same From rules), is off the roster or is HR's own address: such a message then
stops at own_mail or sender, or earlier (duplicate, bounce, auto-reply), and the handlers after
those are the only ones that read a body. `downloaded` guards that order all the same.
"""

from __future__ import annotations

import logging

from bot.intake.decode import parse_head
from bot.intake.job import Context, Job, Stop
from bot.mime.names import sender, to_bytes
from bot.records import REJECTED, Roster

log = logging.getLogger(__name__)


def body_wanted(header: bytes, roster: Roster, hr_address: str | None) -> bool:
    """True when the message may be a roster member's mail: its body is then needed.

    Never raises: a header block it cannot read is answered True, and decode reads the whole.
    """
    try:
        return _from_roster(header, roster, hr_address)
    except Exception as error:  # noqa: BLE001 - reading too much is safe, stopping the mailbox is not
        log.warning("triage: unreadable header block of %d bytes (%s): the whole message is read", len(header),
                    error, exc_info=log.isEnabledFor(logging.DEBUG))
        return True


def _from_roster(header: bytes, roster: Roster, hr_address: str | None) -> bool:
    value = parse_head(bytes(header)).get("From")
    if not isinstance(value, str):
        return False  # no From at all: decode finds no sender either, and checks.sender stops it
    if not to_bytes(value).isascii():
        # Raw 8-bit bytes are read through the charset the message declares, maybe only in a
        # body part's header: the whole message alone tells which address this is.
        return True
    address, _ = sender(value)
    return address is not None and address != hr_address and roster.by_email(address) is not None


def downloaded(job: Job, ctx: Context) -> None:
    """A message whose body was never downloaded goes no further than the checks that need none.

    body_wanted makes sure such a message stops before this; should one come here all the same,
    it is refused with the reason rather than judged on a body it does not have.
    """
    if not job.raw.complete:
        raise Stop(REJECTED, "邮件正文未下载，无法判断其中的材料，请在邮箱中查看")
