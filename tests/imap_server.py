"""A throwaway dovecot for the IMAP tests: own config in a temp folder, 127.0.0.1, a free port."""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

USER = "hr"
PASSWORD = "s3cret-Auth"

# Logged by every imap process on logout: how many headers and bodies the session fetched.
LOGOUT_FORMAT = (
    "in=%i out=%o deleted=%{deleted} expunged=%{expunged} hdr_count=%{fetch_hdr_count}"
    " hdr_bytes=%{fetch_hdr_bytes} body_count=%{fetch_body_count} body_bytes=%{fetch_body_bytes}"
)


def available() -> bool:
    return os.access(DOVECOT, os.X_OK)


@dataclass
class Dovecot:
    host: str
    port: int  # plain IMAP (STARTTLS offered when TLS is on)
    user: str
    password: str
    maildir: Path
    log_path: Path
    rawlog_dir: Path  # one <time>-<pid>.in/.out pair per session: what the client sent
    tls_port: int | None = None  # implicit TLS, when started with a certificate
    ca_file: Path | None = None

    def client(self) -> IMAPClient:
        """A plain logged-in client for setting up and inspecting the mailbox."""
        c = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        if self.password.isascii():
            c.login(self.user, self.password)
        else:
            c.plain_login(self.user, self.password)
        return c

    def append(self, msg: bytes, internaldate: datetime, folder: str = "INBOX", flags=()) -> None:
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, msg, flags=flags, msg_time=internaldate)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sessions(self) -> list[str]:
        """What the client sent in each logged-in session (dovecot rawlog), in the order they began."""
        texts = [p.read_text(errors="replace") for p in self.rawlog_dir.glob("*.in")]
        return sorted(texts, key=_first_timestamp)

    def clear_sessions(self) -> None:
        for p in self.rawlog_dir.iterdir():
            p.unlink()


def _first_timestamp(rawlog: str) -> float:
    # Each rawlog line starts with the time it was read, e.g. "1795623564.272403 A1 EXAMINE ...".
    head = rawlog.split(" ", 1)[0]
    try:
        return float(head)
    except ValueError:
        return float("inf")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service_users() -> tuple[str, str]:
    """dovecot's internal and login users: the packaged ones as root, else ourselves."""
    if os.geteuid() != 0:
        me = getpass.getuser()
        return me, me
    names = []
    for wanted in ("dovecot", "dovenull"):
        try:
            pwd.getpwnam(wanted)
            names.append(wanted)
        except KeyError:
            names.append("nobody")
    return names[0], names[1]


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost made with the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt, ext = folder / "server.key", folder / "server.csr", folder / "server.crt", folder / "ext.cnf"
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-days", "2", "-subj", "/CN=hrbot test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return ca_crt, crt, key


def _config(root: Path, spool: Path, owner: tuple[int, int], port: int, tls: tuple[Path, Path, int] | None) -> str:
    internal, login = _service_users()
    me = pwd.getpwuid(os.getuid()).pw_name
    uid, gid = owner
    ssl = "no"
    tls_listener = "inet_listener imaps {\n    port = 0\n  }"
    if tls is not None:
        crt, key, tls_port = tls
        ssl = f"yes\nssl_cert = <{crt}\nssl_key = <{key}"
        tls_listener = f"inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes\n  }}"
    return f"""
base_dir = {spool}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
disable_plaintext_auth = no
login_trusted_networks = 127.0.0.1/32
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:{spool}/Maildir
imap_id_log = *
imap_logout_format = {LOGOUT_FORMAT}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
# passwd-file refuses UID 0; a static userdb lets the mail processes run as us, root included.
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={spool}
}}
protocol imap {{
  rawlog_dir = {spool}/rawlog
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  {tls_listener}
}}
service anvil {{
  chroot =
}}
# The passwd file lives under pytest's private (0700) tmp_path: read it as ourselves.
service auth {{
  user = {me}
}}
service auth-worker {{
  user = {me}
}}
"""


def _wait_for_port(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited ({proc.returncode}):\n{_tail(log_path)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if s.recv(64).startswith(b"* OK"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {port} within {timeout}s:\n{_tail(log_path)}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _mail_owner() -> tuple[int, int]:
    """Who the mail processes run as: dovecot never lets it be root, so root lends them `nobody`."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


@contextlib.contextmanager
def run_dovecot(tmp_path: Path, tls: bool = False, password: str = PASSWORD) -> Iterator[Dovecot]:
    """Start `dovecot -F` with its own config under tmp_path; stop it (and its children) after.

    The mail itself, the rawlogs and the sockets live in a short folder of their own under /tmp:
    unix socket paths are limited to ~108 bytes, and the mail processes (never root) cannot
    enter pytest's private tmp_path.
    """
    root = Path(tmp_path) / "dovecot"
    (root / "state").mkdir(parents=True, exist_ok=True)
    spool = Path(tempfile.mkdtemp(prefix="dv"))
    os.chmod(spool, 0o755)
    uid, gid = _mail_owner()
    for sub in ("run", "Maildir", "rawlog"):
        (spool / sub).mkdir()
        if sub != "run":
            os.chown(spool / sub, uid, gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{password}\n", encoding="utf-8")
    port = _free_port()
    ca_file = tls_files = tls_port = None
    if tls:
        tls_port = _free_port()
        ca_file, crt, key = make_tls_files(root / "tls")
        tls_files = (crt, key, tls_port)
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, spool, (uid, gid), port, tls_files), encoding="utf-8")
    log_path = root / "dovecot.log"
    # Its own process group, so that stopping it reaches every process it forked, and nothing else.
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_for_port(port, proc, log_path)
        yield Dovecot("127.0.0.1", port, USER, password, spool / "Maildir", log_path, spool / "rawlog",
                      tls_port=tls_port, ca_file=ca_file)
    finally:
        _stop(proc)
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(spool, ignore_errors=True)
