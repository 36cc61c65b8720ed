"""One writer at a time per data folder: a file lock that every command writing the store or outbox holds.

The lock (flock on Unix, msvcrt.locking on Windows: filelock's import alone would cost an idle
poll 30 ms) dies with its process, so a kill -9 never leaves it taken. The holder's PID is written to a file of its own beside it, for the message a
waiting process prints. Holding is reentrant within a process: `hrbot run` takes it for its life
and the library functions it calls may take it again.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from bot.errors import HrbotError

LOCK_FILE = "service.lock"
PID_FILE = "service.pid"
# While waiting, the lock is tried this often.
RETRY_SECONDS = 0.05

_held: dict[Path, tuple[int, int]] = {}  # data folder -> (the open lock file's descriptor, how many holds)
_guard = threading.Lock()


class AlreadyRunning(HrbotError):
    """Another hrbot process holds this data folder's lock."""


class WriterLock:
    """`with WriterLock(settings):` — wait up to the configured time for the data folder, else AlreadyRunning."""

    def __init__(self, settings, wait: float | None = None):
        self.folder = Path(settings.paths.data)
        self.config_dir = settings.config_dir
        self.wait = settings.service.lock_wait_seconds if wait is None else wait

    def acquire(self) -> None:
        with _guard:
            if self.folder in _held:
                fd, count = _held[self.folder]
                _held[self.folder] = (fd, count + 1)
                return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise HrbotError(f"无法在 {self.folder} 建立锁文件：{error.strerror or error}（请检查该文件夹的权限与剩余空间）") from None
        deadline = time.monotonic() + max(0.0, self.wait)
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                pid = self._holder()
                who = f"进程号 {pid}" if pid else "另一个进程"
                raise AlreadyRunning(
                    f"另一个 hrbot 进程（{who}）正在使用配置文件夹 {self.config_dir} 的数据，等待 {self.wait:g} 秒后仍未结束；"
                    f"请稍后再试，或先停止它（hrbot run 可用 systemctl stop hrbot 或在其窗口按 Ctrl+C 停止）")
            time.sleep(RETRY_SECONDS)
        try:
            # A file of its own, written only by the holder: a waiting process reads it for its message.
            with open(os.open(self.folder / PID_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError:
            pass  # only the waiting process's message loses the PID
        with _guard:
            _held[self.folder] = (fd, 1)

    def release(self) -> None:
        with _guard:
            fd, count = _held[self.folder]
            if count > 1:
                _held[self.folder] = (fd, count - 1)
                return
            del _held[self.folder]
        try:
            (self.folder / PID_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _holder(self) -> int | None:
        try:
            return int((self.folder / PID_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    """Take the lock on the open file without waiting; False if another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError on Unix, PermissionError on Windows
        return False
    return True
