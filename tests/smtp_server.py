"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 on a free port, recording what it accepts.

    with SmtpServer() as server:
        server.reply_next("451 4.3.0 Try again later")    # the next mail's DATA gets 451, then 250
        server.reply_next("550 5.1.1 No such user", at="rcpt")
        ... send to 127.0.0.1:server.port ...
        server.received  # [Received(mail_from, rcpt_tos, content)], accepted mails only

A scripted reply "drop" at DATA takes the mail in and hangs up without answering: the case where
the server has the mail but the client never learns it.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DROP = "drop"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


def free_port() -> int:
    """A port nothing listens on right now (also the "connection refused" case)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """Context manager around aiosmtpd's Controller; `login=(user, password)` makes AUTH required."""

    def __init__(self, login: tuple[str, str] | None = None):
        self.port = free_port()
        self.host = "127.0.0.1"
        self.received: list[Received] = []
        self.logins: list[str] = []  # user names that logged in
        self._replies: dict[str, deque[str]] = {"rcpt": deque(), "data": deque()}
        self._lock = threading.Lock()
        kwargs = {}
        if login is not None:
            # Plain AUTH over loopback, so tests need no certificates.
            kwargs = dict(auth_required=True, auth_require_tls=False, authenticator=self._authenticator(login))
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    def reply_next(self, *replies: str, at: str = "data") -> None:
        """Answer the next len(replies) RCPT or DATA commands with these, in order; then 250 again."""
        with self._lock:
            self._replies[at].extend(replies)

    def _scripted(self, at: str) -> str | None:
        with self._lock:
            return self._replies[at].popleft() if self._replies[at] else None

    def _authenticator(self, login: tuple[str, str]):
        def check(server, session, envelope, mechanism, data) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            if ok:
                self.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        return check

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class _Handler:
    def __init__(self, owner: SmtpServer):
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.owner._scripted("rcpt")
        if reply is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.owner._scripted("data")
        if reply is not None and not reply.startswith(("2", DROP)):
            return reply
        with self.owner._lock:
            self.owner.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        if reply == DROP:
            server.transport.abort()  # the mail is in, but no answer ever leaves
        return "250 OK"
