"""A fake Exchange 2016 EWS endpoint on 127.0.0.1 that answers the SOAP calls exchangelib makes.

It is a test double, not an Exchange: it knows the operations hrbot uses (GetFolder, FindFolder,
SyncFolderItems, GetItem, CreateItem, FindItem), answers them with XML written by hand after the
EWS schema (messages.xsd / types.xsd, as Exchange 2016 CU23 returns them), and records what it was
asked. Anything else is logged and listed in `unexpected`, so a test fails with a clear reason
instead of an exchangelib parse error.
"""

from __future__ import annotations

import base64
import email
import itertools
import logging
import ssl
import subprocess
import threading
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"
PATH = "/EWS/Exchange.asmx"

# Exchange Server 2016 CU23; Exchange answers with a "V2017_07_11" Version, which exchangelib
# knows to replace by the API version it asked for.
VERSION_INFO = ('<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507"'
                ' MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="%s"/>' % T)


@dataclass
class Item:
    id: str
    changekey: str
    mime: bytes
    received: datetime  # aware


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    distinguished: str | None = None
    folder_class: str = "IPF.Note"
    items: dict[str, Item] = field(default_factory=dict)
    # The folder's change log in order, (kind, item id): what SyncFolderItems replays from a state.
    changes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Sent:
    """One CreateItem that sent a message."""

    mime: bytes
    disposition: str  # SendOnly | SendAndSaveCopy
    saved_to: str | None  # the SavedItemFolderId, e.g. "sentitems"
    bcc: tuple[str, ...] = ()


class FakeExchange:
    """The mailbox and its recorded traffic; start it with `running()`."""

    def __init__(self, address: str = "hr@tengfei.example", basic_auth: tuple[str, str] | None = None):
        self.address = address
        self.basic_auth = basic_auth  # (user, password) required when set; else no authentication
        self.folders: dict[str, Folder] = {}
        self.operations: list[str] = []  # every SOAP operation received, in order
        self.unexpected: list[str] = []
        self.sent: list[Sent] = []
        self.fail_next: dict[str, str] = {}  # operation -> ResponseCode for its next call
        self.drop_next: set[str] = set()  # operation -> do it, then hang up without answering
        self.sync_states: list[str | None] = []  # the SyncState each SyncFolderItems came with
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.url = ""
        root = self._folder("", None, "root")
        top = self._folder("Top of Information Store", root.id, "msgfolderroot")
        self._folder("Inbox", top.id, "inbox")
        self._folder("Sent Items", top.id, "sentitems")

    # --- setting up the mailbox -------------------------------------------

    def folder(self, distinguished_or_name: str) -> Folder:
        return next(f for f in self.folders.values() if distinguished_or_name in (f.distinguished, f.name))

    def add_folder(self, name: str, parent: str = "inbox") -> Folder:
        return self._folder(name, self.folder(parent).id)

    def deliver(self, mime: bytes, received: datetime, folder: str = "inbox") -> str:
        """A new message arrives in the folder; returns its ItemId."""
        with self._lock:
            n = next(self._ids)
            item = Item(_b64(f"item-{n}"), _b64(f"ck-{n}"), mime, received)
            target = self.folder(folder)
            target.items[item.id] = item
            target.changes.append(("create", item.id))
            return item.id

    def mark_read(self, item_id: str, folder: str = "inbox") -> None:
        self.folder(folder).changes.append(("read", item_id))

    def touch(self, item_id: str, folder: str = "inbox") -> None:
        """A property of the item changed (a flag, a category): an Update in the change log."""
        self.folder(folder).changes.append(("update", item_id))

    def delete(self, item_id: str, folder: str = "inbox") -> None:
        target = self.folder(folder)
        target.items.pop(item_id)
        target.changes.append(("delete", item_id))

    def vanish(self, item_id: str, folder: str = "inbox") -> None:
        """Gone between a sync and its GetItem: the sync still lists it, GetItem finds nothing."""
        self.folder(folder).items.pop(item_id)

    # --- running ------------------------------------------------------------

    @contextmanager
    def running(self, tls: tuple[Path, Path] | None = None) -> Iterator[FakeExchange]:
        """Serve on 127.0.0.1 on a free port; `tls` = (certificate, key) serves HTTPS."""
        handler = type("Handler", (_Handler,), {"exchange": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}{PATH}"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-ews", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)

    # --- answering ----------------------------------------------------------

    def answer(self, body: bytes) -> tuple[int, str, str | None]:
        """The HTTP status and SOAP response for one request body, and the operation (None if unparseable)."""
        try:
            envelope = ET.fromstring(body)
            request = envelope.find(f"{{{SOAP}}}Body")[0]
        except (ET.ParseError, TypeError, IndexError) as e:
            return 500, self._unexpected(f"not a SOAP request ({e}): {body[:200]!r}"), None
        operation = request.tag.rpartition("}")[2]
        with self._lock:
            self.operations.append(operation)
            handler = getattr(self, f"_op_{operation}", None)
            if handler is None:
                return 500, self._unexpected(f"operation {operation} is not served: {body[:400]!r}"), operation
            code = self.fail_next.pop(operation, None)
            if code == "ErrorServerBusy":
                # Throttling comes as a SOAP fault with a back-off hint, over HTTP 500.
                return 500, _server_busy(), operation
            if code is not None:
                injected = _error_message(operation, code, f"{code} (injected by the test)")
                return 200, _envelope(operation, injected), operation
            return 200, _envelope(operation, handler(request)), operation

    def _unexpected(self, what: str) -> str:
        log.error("fake EWS: unexpected request: %s", what)
        self.unexpected.append(what)
        fault = (f'<s:Fault><faultcode>s:Client</faultcode><faultstring>{escape("fake EWS: " + what)}'
                 "</faultstring></s:Fault>")
        return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body>{fault}</s:Body>'
                "</s:Envelope>")

    def _op_GetFolder(self, request: ET.Element) -> str:
        out = []
        for ref in request.find(f"{{{M}}}FolderIds"):
            found = self._resolve(ref)
            if found is None:
                out.append(_error_message("GetFolder", "ErrorFolderNotFound",
                                          "The specified folder could not be found in the store."))
            else:
                out.append(_message("GetFolder", f"<m:Folders>{_folder_xml(found)}</m:Folders>"))
        return "".join(out)

    def _op_FindFolder(self, request: ET.Element) -> str:
        [ref] = list(request.find(f"{{{M}}}ParentFolderIds"))
        parent = self._resolve(ref)
        if parent is None:
            return _error_message("FindFolder", "ErrorFolderNotFound", "The specified folder could not be found.")
        if request.get("Traversal") != "Shallow":
            self.unexpected.append(f"FindFolder Traversal={request.get('Traversal')}")
        wanted = _display_name_restriction(request)
        children = [f for f in self.folders.values()
                    if f.parent == parent.id and (wanted is None or f.name.lower() == wanted.lower())]
        folders = "".join(_folder_xml(f) for f in children)
        return _message("FindFolder", f'<m:RootFolder IndexedPagingOffset="{len(children)}" TotalItemsInView='
                                      f'"{len(children)}" IncludesLastItemInRange="true"><t:Folders>{folders}'
                                      "</t:Folders></m:RootFolder>")

    def _op_SyncFolderItems(self, request: ET.Element) -> str:
        [ref] = list(request.find(f"{{{M}}}SyncFolderId"))
        folder = self._resolve(ref)
        if folder is None:
            return _error_message("SyncFolderItems", "ErrorFolderNotFound", "The specified folder could not be found.",
                                  "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>")
        state_elem = request.find(f"{{{M}}}SyncState")
        state = state_elem.text if state_elem is not None else None
        self.sync_states.append(state)
        start = _decode_state(state, folder.id)
        if start is None or start > len(folder.changes):
            # As Microsoft's SyncFolderItems page shows the error: an empty SyncState and the range flag
            # are still there (and exchangelib reads both before it looks at the ResponseCode).
            return _error_message("SyncFolderItems", "ErrorInvalidSyncStateData", "Synchronization state data is "
                                  "corrupt or otherwise invalid.", "<m:SyncState/><m:IncludesLastItemInRange>true"
                                  "</m:IncludesLastItemInRange>")
        limit = int(request.findtext(f"{{{M}}}MaxChangesReturned") or 100)
        fields = _requested_fields(request.find(f"{{{M}}}ItemShape"))
        changes, position = [], start
        for kind, item_id in folder.changes[start:]:
            if len(changes) == limit:
                break
            position += 1
            item = folder.items.get(item_id)
            if kind in ("create", "update") and item is None:
                continue  # deleted later: Exchange reports nothing for it (or only the Delete)
            changes.append(_change_xml(kind, item_id, item, fields))
        last = position == len(folder.changes)
        return _message("SyncFolderItems",
                        f"<m:SyncState>{_encode_state(folder.id, position)}</m:SyncState>"
                        f"<m:IncludesLastItemInRange>{str(last).lower()}</m:IncludesLastItemInRange>"
                        f"<m:Changes>{''.join(changes)}</m:Changes>")

    def _op_GetItem(self, request: ET.Element) -> str:
        fields = _requested_fields(request.find(f"{{{M}}}ItemShape"))
        out = []
        for ref in request.find(f"{{{M}}}ItemIds"):
            item = next((f.items[ref.get("Id")] for f in self.folders.values() if ref.get("Id") in f.items), None)
            if item is None:
                out.append(_error_message("GetItem", "ErrorItemNotFound",
                                          "The specified object was not found in the store., The process failed to "
                                          "get the correct properties.", "<m:Items/>"))
            else:
                out.append(_message("GetItem", f"<m:Items>{_item_xml(item, fields)}</m:Items>"))
        return "".join(out)

    def _op_CreateItem(self, request: ET.Element) -> str:
        disposition = request.get("MessageDisposition")
        saved = request.find(f"{{{M}}}SavedItemFolderId")
        target = self._resolve(saved[0]) if saved is not None else None
        saved_to = (target.distinguished or target.name) if target is not None else None
        out = []
        for message in request.find(f"{{{M}}}Items"):
            mime_elem = message.find(f"{{{T}}}MimeContent")
            sending = disposition in ("SendOnly", "SendAndSaveCopy")
            if message.tag != f"{{{T}}}Message" or mime_elem is None or not sending:
                self.unexpected.append(f"CreateItem {disposition} of {message.tag} without MIME content")
                # Not ErrorInvalidRequest: exchangelib would take that for a version mismatch and retry.
                out.append(_error_message("CreateItem", "ErrorInvalidOperation", "not a MIME message to send"))
                continue
            mime = base64.b64decode(mime_elem.text or "")
            bcc = tuple(e.text for e in message.iterfind(f"{{{T}}}BccRecipients/{{{T}}}Mailbox/{{{T}}}EmailAddress"))
            self.sent.append(Sent(mime, disposition, saved_to, bcc))
            if target is not None:
                n = next(self._ids)
                copy = Item(_b64(f"item-{n}"), _b64(f"ck-{n}"), mime, datetime.now(timezone.utc))
                target.items[copy.id] = copy
                target.changes.append(("create", copy.id))
            # SendOnly and SendAndSaveCopy return no ItemId: the Items element stays empty.
            out.append(_message("CreateItem", "<m:Items/>"))
        return "".join(out)

    def _op_FindItem(self, request: ET.Element) -> str:
        [ref] = list(request.find(f"{{{M}}}ParentFolderIds"))
        folder = self._resolve(ref)
        if folder is None:
            return _error_message("FindItem", "ErrorFolderNotFound", "The specified folder could not be found.")
        wanted = _message_id_restriction(request)
        if wanted is None:
            self.unexpected.append("FindItem without an InternetMessageId restriction")
        hits = [i for i in folder.items.values() if _message_id(i.mime) == wanted]
        items = "".join(f'<t:Message><t:ItemId Id="{i.id}" ChangeKey="{i.changekey}"/></t:Message>' for i in hits)
        return _message("FindItem", f'<m:RootFolder IndexedPagingOffset="{len(hits)}" TotalItemsInView="{len(hits)}"'
                                    f' IncludesLastItemInRange="true"><t:Items>{items}</t:Items></m:RootFolder>')

    # --- plumbing -----------------------------------------------------------

    def _folder(self, name: str, parent: str | None, distinguished: str | None = None) -> Folder:
        n = next(self._ids)
        folder = Folder(_b64(f"folder-{n}"), name, parent, distinguished)
        self.folders[folder.id] = folder
        return folder

    def _resolve(self, ref: ET.Element) -> Folder | None:
        if ref.tag == f"{{{T}}}DistinguishedFolderId":
            mailbox = ref.findtext(f"{{{T}}}Mailbox/{{{T}}}EmailAddress")
            if mailbox is not None and mailbox.lower() != self.address:
                return None
            return next((f for f in self.folders.values() if f.distinguished == ref.get("Id")), None)
        return self.folders.get(ref.get("Id"))


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A plant CA and a certificate it signed for 127.0.0.1, made with the openssl CLI: (ca, cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "plant-ca.pem", folder / "plant-ca.key"
    cert, key, csr = folder / "exchange.pem", folder / "exchange.key", folder / "exchange.csr"
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n", encoding="ascii")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=Tengfei Plant Test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


class _Handler(BaseHTTPRequestHandler):
    exchange: FakeExchange
    # HTTP/1.1 and no "Connection: close": exchangelib reads a closed connection on a non-200
    # answer as ErrorServerBusy, which would hide a 401 behind a retry.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; don't wait 40 ms between them

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != PATH:
            self.exchange.unexpected.append(f"POST {self.path}")
            return self._reply(404, b"not found", "text/plain")
        if not self._authorized():
            return self._reply(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="fake-ews"'})
        if self.headers.get("Content-Type", "").split(";")[0] != "text/xml":
            self.exchange.unexpected.append(f"Content-Type {self.headers.get('Content-Type')}")
        status, answer, operation = self.exchange.answer(body)
        if operation in self.exchange.drop_next:
            # The work is done but the answer never leaves: the client cannot know it succeeded.
            self.exchange.drop_next.discard(operation)
            self.close_connection = True
            return
        self._reply(status, answer.encode("utf-8"), "text/xml; charset=utf-8")

    def do_GET(self) -> None:
        self.exchange.unexpected.append(f"GET {self.path}")
        self._reply(404, b"not found", "text/plain")

    def _authorized(self) -> bool:
        expected = self.exchange.basic_auth
        if expected is None:
            return True
        token = base64.b64encode(f"{expected[0]}:{expected[1]}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {token}"

    def _reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        log.debug("fake EWS: " + format, *args)


def _envelope(operation: str, messages: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Header>{VERSION_INFO}'
            f'</s:Header><s:Body><m:{operation}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            f"{messages}</m:ResponseMessages></m:{operation}Response></s:Body></s:Envelope>")


def _server_busy() -> str:
    text = "The server cannot service this request right now. Try again later."
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
            f'<faultcode xmlns:a="{T}">a:ErrorServerBusy</faultcode><faultstring xml:lang="en-US">{text}'
            f'</faultstring><detail><e:ResponseCode xmlns:e="{ERRORS}">ErrorServerBusy</e:ResponseCode>'
            f'<e:Message xmlns:e="{ERRORS}">{text}</e:Message><t:MessageXml xmlns:t="{T}">'
            '<t:Value Name="BackOffMilliseconds">29774</t:Value></t:MessageXml></detail></s:Fault></s:Body>'
            "</s:Envelope>")


def _message(operation: str, content: str) -> str:
    return (f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
            f"{content}</m:{operation}ResponseMessage>")


def _error_message(operation: str, code: str, text: str, content: str = "") -> str:
    return (f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(text)}</m:MessageText>'
            f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{content}"
            f"</m:{operation}ResponseMessage>")


def _folder_xml(folder: Folder) -> str:
    parent = f'<t:ParentFolderId Id="{folder.parent}" ChangeKey="AQAAAA=="/>' if folder.parent else ""
    children = 0  # not needed by hrbot; Exchange would count them
    return (f'<t:Folder><t:FolderId Id="{folder.id}" ChangeKey="AQAAAA=="/>{parent}'
            f"<t:FolderClass>{folder.folder_class}</t:FolderClass><t:DisplayName>{escape(folder.name)}"
            f"</t:DisplayName><t:TotalCount>{len(folder.items)}</t:TotalCount><t:ChildFolderCount>{children}"
            f"</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>")


def _item_xml(item: Item, fields: set[str]) -> str:
    # Elements in the order types.xsd's ItemType sequence requires: MimeContent first, ItemId next.
    mime = ""
    if "item:MimeContent" in fields:
        mime = f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.mime).decode()}</t:MimeContent>'
    received = ""
    if "item:DateTimeReceived" in fields:
        received = f"<t:DateTimeReceived>{_ews_time(item.received)}</t:DateTimeReceived>"
    return f'<t:Message>{mime}<t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>{received}</t:Message>'


def _change_xml(kind: str, item_id: str, item: Item | None, fields: set[str]) -> str:
    ref = f'<t:ItemId Id="{item_id}" ChangeKey="{item.changekey if item else "AQAAAA=="}"/>'
    if kind == "create":
        return f"<t:Create>{_item_xml(item, fields)}</t:Create>"
    if kind == "update":
        return f"<t:Update>{_item_xml(item, fields)}</t:Update>"
    if kind == "delete":
        return f"<t:Delete>{ref}</t:Delete>"
    return f"<t:ReadFlagChange>{ref}<t:IsRead>true</t:IsRead></t:ReadFlagChange>"


def _requested_fields(shape: ET.Element | None) -> set[str]:
    if shape is None:
        return set()
    return {e.get("FieldURI") for e in shape.iterfind(f"{{{T}}}AdditionalProperties/{{{T}}}FieldURI")}


def _restriction_value(request: ET.Element, field_uri: str) -> str | None:
    for equal in request.iterfind(f".//{{{T}}}IsEqualTo"):
        uri = equal.find(f"{{{T}}}FieldURI")
        constant = equal.find(f"{{{T}}}FieldURIOrConstant/{{{T}}}Constant")
        if uri is not None and uri.get("FieldURI") == field_uri and constant is not None:
            return constant.get("Value")
    return None


def _display_name_restriction(request: ET.Element) -> str | None:
    return _restriction_value(request, "folder:DisplayName")


def _message_id_restriction(request: ET.Element) -> str | None:
    return _restriction_value(request, "message:InternetMessageId")


def _message_id(mime: bytes) -> str | None:
    value = email.message_from_bytes(mime, policy=policy.compat32)["Message-ID"]
    return value.strip() if value else None


def _encode_state(folder_id: str, position: int) -> str:
    # Real sync states are opaque base64 blobs too; this one names the folder and a change-log position.
    return base64.b64encode(f"fake-sync {folder_id} {position}".encode()).decode()


def _decode_state(state: str | None, folder_id: str) -> int | None:
    if state is None:
        return 0
    try:
        prefix, folder, position = base64.b64decode(state, validate=True).decode().split(" ")
        return int(position) if prefix == "fake-sync" and folder == folder_id else None
    except (ValueError, UnicodeDecodeError):
        return None


def _ews_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(text: str) -> str:
    # Exchange ids are opaque base64 strings; these decode to something readable in a failure message.
    return base64.b64encode(("AAMk-" + text).encode()).decode()

