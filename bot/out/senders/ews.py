"""EwsSender: hands each outbox .eml to Exchange over EWS (CreateItem with the MIME content as written).

It logs in with the [mailbox] connection settings: on-premises Exchange sends as the account that
reads the HR inbox, so there is one set of credentials. Exchange takes the recipients from the MIME
headers (To, Cc); a row recipient missing from them (none today: the outbox writes To and Cc) is
added as Bcc, so the mail reaches exactly row.recipients, as SMTP's envelope would.

With [sending] save_to_sent = true the mail is sent with SendAndSaveCopy into Sent Items, where HR
sees it and where `found_in_sent` can later prove that an interrupted send went out.
"""

from __future__ import annotations

import logging
import socket
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

import requests
import urllib3
from exchangelib import Account, Mailbox, Message
from exchangelib import errors as ews
from exchangelib.folders import BaseFolder, SentItems

from bot.errors import ConfigError, SendError
from bot.records import OutboxRow
from bot.out.senders import DeliveryUncertain
from bot.settings import SETTINGS_FILE, Settings
from bot.sources.ews import connect, endpoint, exception_chain, explain, tls_failure

log = logging.getLogger(__name__)

# What retrying cannot fix: the mail itself or its recipients are refused.
RECIPIENT_REFUSED = (ews.ErrorInvalidRecipients, ews.ErrorInvalidSmtpAddress, ews.ErrorMailRecipientNotFound)
MAIL_REFUSED = (ews.ErrorMessageSizeExceeded, ews.ErrorMimeContentInvalid, ews.ErrorMimeContentConversionFailed,
                ews.ErrorMimeContentInvalidBase64String)
# A login that fails at open() stops the run with the mails still queued; it is the config, not the mail.
LOGIN_REFUSED = (ews.UnauthorizedError, ews.CASError, ews.ErrorNonExistentMailbox, ews.ErrorAccessDenied,
                 ews.RedirectError)


class EwsSender:
    """One EWS account reused for a run's mails."""

    def __init__(self, settings: Settings, password: str | None = None, auth: str | None = None):
        self.mailbox = settings.mailbox
        if not (self.mailbox.service_endpoint or self.mailbox.server):
            raise ConfigError(settings.config_dir / SETTINGS_FILE,
                              "[sending] kind = \"ews\" 使用 [mailbox] 的 Exchange 连接设置：请在 [mailbox] 中填写 "
                              "service_endpoint 或 server、username、password_env")
        self.address = settings.hr.address
        self.password = settings.secret(self.mailbox.password_env) if password is None else password
        self.auth = auth  # "none" only for tests against the fake server
        self.save_copy = settings.sending.save_to_sent
        self.account: Account | None = None
        self.sent_items: BaseFolder | None = None

    # --- the Sender interface -------------------------------------------

    def open(self) -> None:
        if self.account is not None:
            return
        try:
            account = connect(self.mailbox, self.password, self.address, self.auth)  # on fresh connections
            # GetFolder doubles as the login check, before any mail is handed over.
            self.sent_items = SentItems.get_distinguished(root=account.root)
        except (ews.EWSError, requests.exceptions.RequestException, OSError) as e:
            log.debug("EWS open failed: %r", e)
            permanent = isinstance(e, LOGIN_REFUSED) or tls_failure(e)
            raise SendError(explain(e, self.mailbox, self.address), permanent=permanent) from e
        self.account = account

    def send(self, row: OutboxRow) -> None:
        if self.account is None:
            try:
                self.open()
            except SendError as e:
                # Here a login failure is about this run, not this mail: never mark the row failed for it.
                raise SendError(str(e), permanent=False) from e
        extra = _missing_from_headers(row)
        # is_read: the copy in Sent Items should look like any mail HR sent, not like new mail.
        message = Message(account=self.account, folder=self.sent_items if self.save_copy else None,
                          mime_content=row.eml, is_read=True,
                          bcc_recipients=[Mailbox(email_address=a) for a in extra] or None)
        try:
            if self.save_copy:
                message.send_and_save()
            else:
                message.send(save_copy=False)
        except (ews.EWSError, requests.exceptions.RequestException, OSError) as e:
            log.debug("EWS CreateItem for %s failed: %r", row.message_id, e)
            raise self._error(e, row) from e

    def close(self) -> None:
        if self.account is not None:
            self.account.protocol.close()
            self.account = None

    # --- exactly once -----------------------------------------------------

    def found_in_sent(self, row: OutboxRow) -> bool:
        """True when Sent Items holds a mail with the row's Message-ID (only kept with save_to_sent).

        For senders.Hooks.found_in_sent: settles a row an interrupted run left in 'sending'.
        """
        if not self.save_copy:
            return False
        self.open()
        try:
            return self.sent_items.filter(message_id=row.message_id).exists()
        except (ews.EWSError, requests.exceptions.RequestException, OSError) as e:
            raise SendError(explain(e, self.mailbox, self.address)) from e

    # --- plumbing ---------------------------------------------------------

    def _error(self, error: Exception, row: OutboxRow) -> SendError:
        who = "、".join(row.recipients)
        if isinstance(error, RECIPIENT_REFUSED):
            return SendError(f"Exchange 拒收收件人 {who}（{type(error).__name__}）：地址无效或不存在", permanent=True)
        if isinstance(error, MAIL_REFUSED):
            return SendError(f"Exchange 拒收这封邮件（{type(error).__name__}：{_one_line(error)}）", permanent=True)
        if isinstance(error, ews.ErrorSendAsDenied):
            return SendError(f"账户 {self.mailbox.username} 无权以 {self.address} 的名义发信（Send As），"
                             "请让 Exchange 管理员授权", permanent=True)
        if _maybe_delivered(error):
            # The request left us whole and the answer was lost: Exchange may have sent it.
            return DeliveryUncertain(f"邮件已交给 Exchange {endpoint(self.mailbox)}，但没有收到服务器的答复")
        if isinstance(error, ews.ErrorServerBusy | ews.ErrorInternalServerTransientError | ews.ErrorQuotaExceeded
                      | ews.ErrorSubmissionQuotaExceeded):
            return SendError(f"Exchange 暂时不能发信（{type(error).__name__}），稍后重试", permanent=False)
        # Anything else (a login that stopped working mid-run, a network failure) may pass later.
        return SendError(explain(error, self.mailbox, self.address), permanent=False)


def _missing_from_headers(row: OutboxRow) -> list[str]:
    """Row recipients that the .eml's To/Cc/Bcc headers do not name (Exchange sends to the headers)."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(row.eml)
    named = {addr.lower() for _, addr in getaddresses(headers.get_all("To", []) + headers.get_all("Cc", [])
                                                      + headers.get_all("Bcc", []))}
    return [r for r in row.recipients if r.lower() not in named]


def _maybe_delivered(error: BaseException) -> bool:
    """Whether the request may have reached Exchange whole: the connection failed after it was sent.

    exchangelib re-raises requests' errors as ErrorTimeoutExpired/ErrorServerBusy; the original is
    in the exception chain. A refused or timed-out connect never carried the mail.
    """
    chain = exception_chain(error)
    for e in list(chain):
        if isinstance(e, requests.exceptions.ConnectionError) and e.args:
            reason = getattr(e.args[0], "reason", None)  # urllib3's MaxRetryError keeps the cause here
            if isinstance(reason, BaseException):
                chain.append(reason)
    never_sent = (requests.exceptions.ConnectTimeout, urllib3.exceptions.NewConnectionError, ConnectionRefusedError)
    if any(isinstance(e, never_sent) for e in chain):
        return False
    lost = (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError, ConnectionResetError, socket.timeout)
    return any(isinstance(e, lost) for e in chain)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
