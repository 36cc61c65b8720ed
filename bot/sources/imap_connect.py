"""Connecting to an IMAP server (TLS verified, LOGIN, ID) and turning its failures into one line for HR."""

from __future__ import annotations

import contextlib
import functools
import imaplib
import logging
import socket
import ssl
from typing import Iterator

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError

from bot import __version__
from bot.errors import MailboxError
from bot.settings import Mailbox

log = logging.getLogger(__name__)

# RFC 2971 ID fields; NetEase (163/126/企业邮) and Coremail refuse SELECT ("Unsafe Login") without them.
CLIENT_ID = {"name": "hrbot", "version": __version__, "vendor": "hrbot"}


def tls_context(mailbox: Mailbox) -> ssl.SSLContext:
    """The system's trusted CAs plus `ca_file`; certificate and host name always checked."""
    context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    if mailbox.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(mailbox.ca_file))
        except (OSError, ssl.SSLError) as e:
            raise MailboxError(f"无法读取 ca_file {mailbox.ca_file}：{e}（应为 PEM 格式的 CA 证书）") from e
    return context


def connect(mailbox: Mailbox, password: str, context: ssl.SSLContext | None = None) -> IMAPClient:
    """Connect, secure, log in and identify; any failure is a MailboxError.

    `context`: the TLS context to use, made by tls_context() when not given.
    """
    with mailbox_errors(mailbox):
        implicit_tls = mailbox.security == "ssl"
        if context is None and mailbox.security in ("ssl", "starttls"):
            context = tls_context(mailbox)
        client = IMAPClient(mailbox.host, mailbox.port, ssl=implicit_tls, ssl_context=context,
                            timeout=mailbox.timeout)
        try:
            _quiet_imaplib(client)
            client.normalise_times = False  # keep INTERNALDATE's offset: aware datetimes
            if mailbox.security == "starttls":
                client.starttls(context)
            elif mailbox.security == "none":
                _warn_unencrypted(mailbox.host, mailbox.port)
            _login(client, mailbox.username, password)
            if client.has_capability("ID"):
                _send_id(client)
        except BaseException:
            _drop(client)
            raise
    return client


@functools.cache
def _warn_unencrypted(host: str, port: int) -> None:
    """Said once per server and process: the service connects at every poll."""
    log.warning("imap: security = none, the password crosses the network unencrypted (%s:%d)", host, port)


def _login(client: IMAPClient, username: str, password: str) -> None:
    if username.isascii() and password.isascii():
        client.login(username, password)
    else:
        # imaplib's LOGIN is ASCII only; AUTHENTICATE PLAIN carries UTF-8.
        client.plain_login(username, password)


def _send_id(client: IMAPClient) -> None:
    try:
        client.id_(CLIENT_ID)
    except IMAPClient.AbortError:
        raise
    except IMAPClient.Error as e:
        # A server that advertises ID but refuses ours still serves most clients: go on.
        log.warning("imap: the server refused the ID command: %s", _text(e))


def _quiet_imaplib(client: IMAPClient) -> None:
    """imapclient sets imaplib's debug level to 5 (every line read is formatted): only when debugging."""
    if not (log.isEnabledFor(logging.DEBUG) or logging.getLogger("imapclient").isEnabledFor(logging.DEBUG)):
        client._imap.debug = 0


def close(client: IMAPClient | None, polite: bool = True) -> None:
    """Log out; a connection that failed (polite=False) or breaks meanwhile is just dropped."""
    if client is None:
        return
    if not polite:
        _drop(client)
        return
    try:
        client.logout()
    except Exception:
        _drop(client)


def _drop(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()


@contextlib.contextmanager
def mailbox_errors(mailbox: Mailbox, folder: str | None = None) -> Iterator[None]:
    """Re-raise imapclient, socket and TLS errors as a MailboxError HR can act on."""
    try:
        yield
    except MailboxError:
        raise
    except (IMAPClient.Error, OSError, EOFError) as e:
        raise translate(e, mailbox, folder) from e


def translate(e: BaseException, mailbox: Mailbox, folder: str | None = None) -> MailboxError:
    server = f"{mailbox.host}:{mailbox.port}"
    text = _text(e)
    if isinstance(e, LoginError):
        if "UNAVAILABLE" in text.upper() or "TEMPORARY" in text.upper():
            return MailboxError(f"邮箱登录暂时失败（服务器 {server} 回复：{text}），请稍后再试")
        return MailboxError("邮箱登录失败：用户名或密码（授权码）错误"
                            "（163、QQ 等邮箱请使用在邮箱设置中生成的授权码，并确认已开启 IMAP 服务）")
    if isinstance(e, CapabilityError) and "STARTTLS" in text:
        return MailboxError(f"邮件服务器 {server} 不支持 STARTTLS：请改用 security = \"ssl\"（通常为 993 端口）")
    if isinstance(e, ssl.SSLCertVerificationError):
        return MailboxError(f"邮件服务器 {mailbox.host} 的 TLS 证书未通过验证（{e.verify_message}）："
                            "如服务器使用单位自签证书，请在 [mailbox] ca_file 中指定其 CA 证书文件")
    if isinstance(e, ssl.SSLError):
        return MailboxError(f"与邮件服务器 {server} 的 TLS 握手失败（{e.reason or e}）：请检查端口与 security 设置"
                            "（993 端口用 ssl，143 端口用 starttls）")
    if isinstance(e, ConnectionRefusedError):
        return MailboxError(f"无法连接邮件服务器 {server}：连接被拒绝，请检查服务器地址和端口")
    if isinstance(e, socket.gaierror):
        return MailboxError(f"找不到邮件服务器 {mailbox.host}：请检查服务器地址和网络")
    if isinstance(e, (socket.timeout, TimeoutError)):
        return MailboxError(f"邮件服务器 {server} 在 {mailbox.timeout:g} 秒内没有响应：请检查网络、端口和 security 设置")
    if isinstance(e, (OSError, EOFError, imaplib.IMAP4.abort)):
        return MailboxError(f"与邮件服务器 {server} 的连接中断（{text}），下次收信时会重试")
    upper = text.upper()
    if "UNSAFE LOGIN" in upper:
        return MailboxError("邮件服务器以“Unsafe Login”拒绝访问：请在邮箱网页版设置中开启 IMAP/SMTP 服务并使用授权码")
    if folder is not None and ("NONEXISTENT" in upper or "DOESN'T EXIST" in upper or "NOT EXIST" in upper
                               or "NOT FOUND" in upper or "UNKNOWN MAILBOX" in upper):
        return MailboxError(f"邮箱中找不到文件夹“{folder}”：请检查 [mailbox] folder 设置（收件箱为 INBOX）")
    return MailboxError(f"邮件服务器 {server} 返回错误：{text}")


def _text(e: BaseException) -> str:
    arg = e.args[0] if e.args else e
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "replace")
    return str(arg) or type(e).__name__
