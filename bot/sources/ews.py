"""The Exchange on-premises source: reads one folder incrementally over EWS (SyncFolderItems), never changing it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, time, timezone
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from exchangelib import DELEGATE, UTC, Account, Build, Configuration, Credentials, Version
from exchangelib import errors as ews
from exchangelib.folders import BaseFolder, Inbox, MsgFolderRoot
from exchangelib.items import ID_ONLY, Item
from exchangelib.protocol import BaseProtocol
from exchangelib.services import SyncFolderItems
from exchangelib.transport import BASIC, NOAUTH, NTLM

from bot.errors import ConfigError, MailboxError
from bot.records import RawMessage
from bot.settings import SETTINGS_FILE, Mailbox

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

# exchangelib logs each request's headers (a Basic auth header holds the password) and whole SOAP
# bodies (people's mail) at DEBUG; hrbot's --debug must not pass them on.
if logging.getLogger("exchangelib").level == logging.NOTSET:
    logging.getLogger("exchangelib").setLevel(logging.INFO)

# Exchange 2016 and 2019 both speak API version "Exchange2016". Fixing it spares the version-guessing
# requests exchangelib would otherwise send, and autodiscover is never used (the endpoint is configured).
EXCHANGE_VERSION = Version(build=Build(15, 1))

# settings.toml's words for [mailbox] auth; "none" is only for tests against a local fake server.
AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC, "none": NOAUTH}

# Changes per SyncFolderItems call. Each page's sync state is saved with the last message of the page,
# so a crash costs at most one page of re-reading (never a message: the store skips known keys).
PAGE_SIZE = 100

# The names HR may give the inbox: EWS's own, and how a Chinese Outlook shows it.
INBOX_NAMES = ("inbox", "收件箱")

# Per-item GetItem errors that mean "this message cannot be had", not "the mailbox is broken".
UNREADABLE_ITEM = (ews.ErrorItemNotFound, ews.ErrorMimeContentConversionFailed, ews.ErrorItemCorrupt,
                   ews.ErrorCorruptData, ews.ErrorMessageSizeExceeded, ews.ErrorInvalidIdMalformed)


def endpoint(mailbox: Mailbox) -> str:
    """The EWS URL: service_endpoint as given, else the usual path on `server`."""
    return mailbox.service_endpoint or f"https://{mailbox.server}/EWS/Exchange.asmx"


def connect(mailbox: Mailbox, password: str, address: str, auth: str | None = None) -> Account:
    """An exchangelib Account for `address` with the [mailbox] connection settings; sends nothing yet.

    `auth` overrides mailbox.auth ("ntlm" | "basic" | "none"); tests use "none" against the fake server.
    """
    auth_type = AUTH_TYPES[auth or mailbox.auth]
    _trust_ca_file(mailbox)
    credentials = None if auth_type == NOAUTH else Credentials(mailbox.username, password)
    config = Configuration(credentials=credentials, service_endpoint=endpoint(mailbox), auth_type=auth_type,
                           version=EXCHANGE_VERSION)
    # DELEGATE: the configured user reads its own mailbox (or one it has rights on); no impersonation.
    # UTC: EWS sends times in UTC, and the host's zone must not leak into anything.
    account = Account(primary_smtp_address=address, config=config, autodiscover=False, access_type=DELEGATE,
                      default_timezone=UTC)
    # An instance attribute: exchangelib reads protocol.TIMEOUT for every request (default 120 s).
    account.protocol.TIMEOUT = mailbox.timeout
    # exchangelib shares one protocol (and its pooled HTTP sessions) per endpoint and user for the
    # whole process. Starting from fresh sessions means no keep-alive socket the server closed while
    # we were idle (a reset that, for a send, could not be told from a lost answer), and a ca_file
    # set since takes effect.
    account.protocol.close()
    return account


class _CaFileAdapter(requests.adapters.HTTPAdapter):
    """Verifies the servers given a [mailbox] ca_file against that file, and every other one as usual.

    exchangelib builds every session's adapter from one class attribute, so the choice is made
    per request by host and port rather than per account.
    """

    ca_files: dict[tuple[str, int], str] = {}

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        ca_file = self.ca_files.get((url.hostname or "", url.port or 443))
        # Also over a REQUESTS_CA_BUNDLE default; never over verify=False, and never turning checks off.
        if ca_file is not None and kwargs.get("verify", True) is not False:
            kwargs["verify"] = ca_file
        return super().send(request, **kwargs)


def _trust_ca_file(mailbox: Mailbox) -> None:
    if mailbox.ca_file is None:
        return
    if not mailbox.ca_file.is_file():
        raise ConfigError(SETTINGS_FILE, f"[mailbox] ca_file: 找不到证书文件 {mailbox.ca_file}")
    url = urlsplit(endpoint(mailbox))
    _CaFileAdapter.ca_files[(url.hostname or "", url.port or 443)] = str(mailbox.ca_file)
    BaseProtocol.HTTP_ADAPTER_CLS = _CaFileAdapter


def explain(error: Exception, mailbox: Mailbox, address: str) -> str:
    """One plain line for HR about a failed EWS call (never the password)."""
    where = endpoint(mailbox)
    if isinstance(error, ews.UnauthorizedError | ews.CASError):
        return (f"Exchange 登录失败：用户名或密码错误，或账户已被锁定（用户 {mailbox.username}，{where}）；"
                "请检查 [mailbox] username、password_env 和 auth")
    if isinstance(error, ews.ErrorFolderNotFound):
        return f"Exchange 邮箱 {address} 中找不到文件夹“{mailbox.folder}”，请检查 [mailbox] folder"
    if isinstance(error, ews.ErrorNonExistentMailbox | ews.ErrorMailboxStoreUnavailable):
        return f"Exchange 上找不到邮箱 {address}：[hr] address 应是该邮箱的主 SMTP 地址"
    if isinstance(error, ews.ErrorAccessDenied | ews.ErrorImpersonateUserDenied):
        return f"账户 {mailbox.username} 无权读取邮箱 {address}，请让 Exchange 管理员授予完全访问权限"
    if isinstance(error, ews.RedirectError):
        return (f"Exchange 服务器把请求转到了 {error.value}：service_endpoint 可能不对"
                "（通常是 https://服务器/EWS/Exchange.asmx）")
    if tls_failure(error):
        return (f"Exchange 服务器 {where} 的 TLS 证书校验失败：若使用单位内部证书，请在 [mailbox] ca_file "
                "中指定签发它的 CA 证书")
    if isinstance(error, ews.ErrorTimeoutExpired | ews.ErrorServerBusy | ews.ErrorInternalServerTransientError
                  | ews.TransportError | requests.exceptions.RequestException | OSError):
        return f"无法连接 Exchange 服务器 {where}：请检查地址、网络和防火墙，或稍后再试"
    return f"Exchange 返回错误（{where}）：{type(error).__name__}：{_one_line(error)}"


class EwsSource:
    """Yields each new message of one Exchange folder once, with the sync state as its checkpoint."""

    def __init__(self, mailbox: Mailbox, password: str, address: str | None = None, auth: str | None = None,
                 page_size: int = PAGE_SIZE):
        self.mailbox = mailbox
        self.password = password
        # The mailbox's SMTP address; a UPN user name is the best guess when the caller has none.
        self.address = (address or (mailbox.username if "@" in mailbox.username else "")).strip().lower()
        self.auth = auth
        self.page_size = page_size
        self.state_key = f"ews:{mailbox.folder}"
        self.account: Account | None = None
        self.folder: BaseFolder | None = None

    # --- the Source interface ---------------------------------------------

    def open(self) -> None:
        if not self.address:
            raise MailboxError("无法确定要读取的 Exchange 邮箱地址：请把 [mailbox] username 写成 hr@… 的形式")
        with self._errors():
            self.account = connect(self.mailbox, self.password, self.address, self.auth)
            self.folder = find_folder(self.account, self.mailbox.folder)
        log.debug("EWS: reading %s of %s at %s", self.mailbox.folder, self.address, endpoint(self.mailbox))

    def messages(self, store: Store, wants_body: Callable[[bytes], bool] | None = None) -> Iterator[RawMessage]:
        """New items as MIME, whole (wants_body unused: EWS hands over each item's MIME in one piece)."""
        state = store.get_state(self.state_key)
        while True:
            changes, new_state, last = self._sync_page(state)
            pending: RawMessage | None = None
            for item in changes:
                key = f"ews:{item.id}"
                if store.has_delivery(key) or self._before_since(item):
                    continue
                raw = self._fetch(item, key)
                if raw is None:
                    continue
                # Hold one back: the page's state must ride on its last message, known only at the end.
                if pending is not None:
                    yield pending
                pending = raw
            if pending is not None:
                yield replace(pending, checkpoint={self.state_key: new_state})
            elif new_state != state:
                # Nothing of this page needs recording (reads, deletions, mail recorded before), so
                # moving the state on loses nothing, and the next poll need not page through it again.
                store.set_state(self.state_key, new_state)
            if last or new_state == state:
                break
            state = new_state

    def fetch_again(self, source_key: str, message_id: str | None = None,
                    received_at: datetime | None = None) -> RawMessage | None:
        """The item the store knows as "ews:<item id>", as MIME; None when Exchange no longer has it."""
        if self.account is None:
            self.open()
        with self._errors():
            [got] = list(self.account.fetch(ids=[(source_key.removeprefix("ews:"), None)], folder=self.folder,
                                            only_fields=["mime_content", "datetime_received"]))
        if isinstance(got, UNREADABLE_ITEM) or (not isinstance(got, Exception) and not got.mime_content):
            return None
        if isinstance(got, Exception):
            raise MailboxError(explain(got, self.mailbox, self.address)) from got
        return RawMessage(source_key=source_key, data=got.mime_content, received_at=_arrival(got))

    def message_count(self) -> int | None:
        """How many messages the folder holds, as Exchange counted them at open() (for `hrbot check`)."""
        return self.folder.total_count if self.folder is not None else None

    def done(self, raw: RawMessage) -> None:
        pass  # read-only: Exchange mail is never moved or flagged

    def close(self) -> None:
        if self.account is not None:
            self.account.protocol.close()  # the TCP sessions; exchangelib keeps the protocol for reuse
            self.account = None
            self.folder = None

    # --- EWS calls --------------------------------------------------------

    def _sync_page(self, state: str | None) -> tuple[list[Item], str, bool]:
        """The created items of one SyncFolderItems page, the state after it, and whether it was the last."""
        svc = SyncFolderItems(account=self.account)
        fields = {f for f in self.folder.normalize_fields(fields=["datetime_received"]) if not f.field.is_attribute}
        with self._errors():
            try:
                changes = list(svc.call(folder=self.folder, shape=ID_ONLY, additional_fields=fields, sync_state=state,
                                        ignore=None, max_changes_returned=self.page_size, sync_scope=None))
            except ews.ErrorInvalidSyncStateData:
                if state is None:
                    raise
                # Exchange forgot the state (mailbox moved or restored): start over; recorded mail is skipped by key.
                log.warning("EWS: the saved sync state of %s is no longer valid; reading the folder again from the "
                            "start", self.mailbox.folder)
                return self._sync_page(None)
        created = []
        for change in changes:
            if isinstance(change, Exception):
                raise MailboxError(explain(change, self.mailbox, self.address)) from change
            kind, item = change
            # Updates (flags, categories), read marks and deletions never make a new delivery.
            if kind == SyncFolderItems.CREATE:
                created.append(item)
        return created, svc.sync_state, bool(svc.includes_last_item_in_range)

    def _fetch(self, item: Item, key: str) -> RawMessage | None:
        """The item's MIME content as a RawMessage, or None when Exchange cannot give it."""
        with self._errors():
            [got] = list(self.account.fetch(ids=[item], folder=self.folder, only_fields=["mime_content"]))
        if isinstance(got, UNREADABLE_ITEM):
            # Deleted since the sync, or Exchange cannot convert it to MIME: nothing to hand the intake.
            log.error("EWS: message %s (received %s) skipped: %s", key, item.datetime_received, _one_line(got))
            return None
        if isinstance(got, Exception):
            raise MailboxError(explain(got, self.mailbox, self.address)) from got
        if not got.mime_content:
            log.error("EWS: message %s (received %s) has no MIME content; skipped", key, item.datetime_received)
            return None
        return RawMessage(source_key=key, data=got.mime_content, received_at=_arrival(item))

    def _before_since(self, item: Item) -> bool:
        since = self.mailbox.since
        if since is None or item.datetime_received is None:
            return False
        # A coarse first-run filter, so a day boundary in UTC is close enough.
        return _arrival(item) < datetime.combine(since, time(), tzinfo=timezone.utc)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except MailboxError:
            raise
        except (ews.EWSError, requests.exceptions.RequestException, OSError) as e:
            log.debug("EWS call failed: %r", e)
            raise MailboxError(explain(e, self.mailbox, self.address)) from e


def find_folder(account: Account, path: str) -> BaseFolder:
    """The folder `path` names: "INBOX" (or 收件箱), "Inbox/sub", or a folder under the mailbox's top level."""
    parts = [p for p in path.replace("\\", "/").split("/") if p.strip()]
    if not parts or parts[0].strip().lower() in INBOX_NAMES:
        folder, parts = Inbox.get_distinguished(root=account.root), parts[1:]
    else:
        folder = MsgFolderRoot.get_distinguished(root=account.root)
    for name in parts:
        # `//` asks Exchange for one named child (FindFolder, shallow) instead of loading every folder.
        folder = folder // name.strip()
    return folder


def _arrival(item: Item) -> datetime:
    """DateTimeReceived as a plain aware datetime in UTC (docs/contract.md, "Time")."""
    received = item.datetime_received
    if received is None:
        raise MailboxError(f"Exchange 没有给出邮件 {item.id} 的接收时间（DateTimeReceived）")
    return datetime.fromtimestamp(received.timestamp(), tz=timezone.utc)


def tls_failure(error: BaseException) -> bool:
    """Whether the server's certificate was refused."""
    # exchangelib re-raises requests' SSLError as a bare TransportError; the chain keeps the cause.
    return any(isinstance(e, requests.exceptions.SSLError) for e in exception_chain(error)) \
        or "CERTIFICATE_VERIFY_FAILED" in str(error)


def exception_chain(error: BaseException) -> list[BaseException]:
    """The error and what it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and all(seen is not e for e in chain):
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
