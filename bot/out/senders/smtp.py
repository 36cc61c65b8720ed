"""SmtpSender: hands each outbox .eml to an SMTP server (ssl, starttls or none) exactly as written.

Envelope sender. MAIL FROM is the HR address, not the null sender "<>" that RFC 3834 §3.3
prefers for automatic responses: the submission servers HR uses (Exmail, 163/企业邮, Coremail,
Exchange) reject or rewrite a MAIL FROM that is not the logged-in account, and a bounce must
reach the HR inbox so that a wrong roster address is noticed. RFC 3834 allows a non-null
return path when the responder handles the delivery reports without answering them, which
hrbot's intake does (a bounce is logged as `bounce` and never answered), so no loop can start.

The DATA step is done by hand rather than with smtplib.sendmail, to tell "the server refused
it" from "the whole mail went out and the answer was lost": only the second may have been
delivered, and it is reported as DeliveryUncertain rather than retried.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl

from bot.errors import ConfigError, SendError
from bot.records import OutboxRow
from bot.out.senders import DeliveryUncertain
from bot.settings import SETTINGS_FILE, Settings

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}

LOGIN_FAILED = "发信服务器登录失败：用户名或密码（授权码）错误"


class SmtpSender:
    """One SMTP session reused for a run's mails; reconnects by itself if the server hung up."""

    def __init__(self, settings: Settings):
        self.sending = settings.sending
        self.envelope_from = settings.hr.address
        self.where = f"{self.sending.host}:{self.sending.port}"
        local = self.sending.host.lower() in LOCAL_HOSTS
        if self.sending.security == "none" and self.sending.username and not local:
            # The password would cross the network in clear; a local relay (stunnel, postfix) is fine.
            raise ConfigError(settings.config_dir / SETTINGS_FILE,
                              f"[sending] security = \"none\" 时不会把密码明文发往 {self.sending.host}；"
                              "请改用 \"ssl\"（通常端口 465）或 \"starttls\"（通常端口 587）")
        if self.sending.security == "none" and not local:
            log.warning("SMTP to %s without TLS (security = \"none\"): mail crosses the network unencrypted",
                        self.where)
        self.password = settings.secret(self.sending.password_env) if self.sending.username else ""
        self._conn: smtplib.SMTP | None = None

    # --- the Sender interface -------------------------------------------

    def open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()

    def send(self, row: OutboxRow) -> None:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except SendError as e:
                # open() succeeded this run, so this is the server or network failing mid-run,
                # not the mail: never a reason to give up on this one for good.
                raise SendError(str(e), permanent=False) from e
        conn = self._conn
        data = _wire_bytes(row.eml)
        options = self._mail_options(conn, row, data)
        try:
            code, reply = conn.mail(self.envelope_from, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, self.envelope_from)
            # One refused recipient stops the whole mail before DATA: a row goes to everyone or to
            # no one, so "sent" and "failed" stay true for all its recipients.
            refused = {}
            for address in row.recipients:
                code, reply = conn.rcpt(address)
                if code not in (250, 251):
                    refused[address] = (code, reply)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
            code, reply = conn.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            # If this raises, the final "." never fully left us, so the server cannot have the mail.
            conn.send(data + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            if isinstance(e, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                self._reset()
            else:
                self._drop()
            raise self._error(e) from e
        try:
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self._drop()
            raise DeliveryUncertain(f"邮件已全部发给 {self.where}，但没有收到服务器的答复（{e}）") from e
        if code != 250:
            raise self._error(smtplib.SMTPDataError(code, reply))

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    # --- plumbing ---------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.sending
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, local_hostname=_helo_name(), timeout=s.timeout,
                                        context=self._tls_context())
            else:
                conn = smtplib.SMTP(s.host, s.port, local_hostname=_helo_name(), timeout=s.timeout)
            conn.ehlo()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    # Never fall back to clear text: the password and the mail would go unprotected.
                    raise SendError(f"发信服务器 {self.where} 不支持 STARTTLS，未发送任何内容；"
                                    "请确认端口，或改用 security = \"ssl\"（通常端口 465）", permanent=True)
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if s.username:
                try:
                    conn.login(s.username, self.password)
                except UnicodeEncodeError:
                    # smtplib sends AUTH as ASCII only (CPython gh-73936); the provider's 授权码 always is.
                    raise SendError("发信账户的用户名或密码含中文等非 ASCII 字符，无法登录；"
                                    "请改用邮箱提供的客户端授权码", permanent=True) from None
        except BaseException as e:
            if conn is not None:
                conn.close()
            if isinstance(e, SendError):
                raise
            if isinstance(e, OSError):
                raise self._error(e) from e
            raise
        log.debug("SMTP session open to %s (%s)", self.where, s.security)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        # Verified against the system's CAs; ca_file adds a plant CA on top, it never turns checks off.
        context = ssl.create_default_context()
        if self.sending.ca_file is not None:
            context.load_verify_locations(cafile=str(self.sending.ca_file))
        return context

    def _mail_options(self, conn: smtplib.SMTP, row: OutboxRow, data: bytes) -> list[str]:
        options = []
        if conn.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        if not data.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not all(a.isascii() for a in (self.envelope_from, *row.recipients)):
            if not conn.has_extn("smtputf8"):
                raise SendError(f"收件人地址含中文等非 ASCII 字符，发信服务器 {self.where} 不支持（SMTPUTF8）",
                                permanent=True)
            options.append("SMTPUTF8")
        return options

    def _reset(self) -> None:
        """After a refused step the session is still good once RSET clears the transaction."""
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _error(self, e: OSError) -> SendError:
        """One plain line for HR; permanent when retrying the same thing cannot help."""
        where = self.where
        if isinstance(e, smtplib.SMTPAuthenticationError):
            if 400 <= e.smtp_code < 500:  # e.g. 454 "temporary authentication failure"
                return SendError(f"发信服务器 {where} 暂时无法登录（{_reply(e)}），稍后重试")
            return SendError(f"{LOGIN_FAILED}（{where}：{_reply(e)}）", permanent=True)
        if isinstance(e, smtplib.SMTPNotSupportedError):
            return SendError(f"发信服务器 {where} 不支持登录（AUTH），请检查 security 与端口：{e}", permanent=True)
        if isinstance(e, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in e.recipients.values()]
            who = "；".join(f"{a}（{code} {_text(r)}）" for a, (code, r) in e.recipients.items())
            return SendError(f"收件人被服务器拒绝：{who}", permanent=any(c >= 500 for c in codes))
        if isinstance(e, smtplib.SMTPServerDisconnected):
            return SendError(f"发信服务器 {where} 断开了连接（{e}），稍后重试")
        if isinstance(e, smtplib.SMTPResponseException):
            what = "发件人" if isinstance(e, smtplib.SMTPSenderRefused) else "邮件"
            if e.smtp_code >= 500:
                return SendError(f"{what}被发信服务器拒绝（{_reply(e)}）", permanent=True)
            return SendError(f"发信服务器暂时不收这封{what}（{_reply(e)}），稍后重试")
        if isinstance(e, ssl.SSLCertVerificationError):
            return SendError(f"发信服务器 {where} 的证书校验失败（{e.verify_message}）；"
                             "如是单位内部证书，请在 [sending] ca_file 指定其 CA 证书", permanent=True)
        if isinstance(e, ssl.SSLError):
            return SendError(f"与发信服务器 {where} 的 TLS 握手失败（{e.reason}）；请检查端口与 security 是否对应"
                             "（ssl 通常 465，starttls 通常 587）", permanent=True)
        if isinstance(e, ConnectionRefusedError):
            return SendError(f"无法连接发信服务器 {where}（连接被拒绝），稍后重试")
        if isinstance(e, socket.gaierror):
            return SendError(f"找不到发信服务器 {self.sending.host}（域名解析失败），稍后重试")
        if isinstance(e, TimeoutError):
            return SendError(f"连接发信服务器 {where} 超时，稍后重试")
        return SendError(f"与发信服务器 {where} 通信失败（{e}），稍后重试")


def _wire_bytes(eml: bytes) -> bytes:
    """The .eml as SMTP DATA: CRLF line ends (RFC 5321 §2.3.8), leading dots doubled (§4.5.2)."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", eml)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _helo_name() -> str:
    # smtplib's default is socket.getfqdn(), which on a Windows PC named in Chinese is not ASCII
    # and makes EHLO itself fail; servers here do not check the name anyway.
    name = socket.getfqdn()
    return name if name.isascii() and name else "localhost"


def _reply(e: smtplib.SMTPResponseException) -> str:
    return f"{e.smtp_code} {_text(e.smtp_error)}"


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).replace("\n", " ")
