"""The one error tree: every failure HR can act on is an HrbotError with one plain line."""

import errno

# What these errnos say is wrong is the machine (space, rights, the disk), never the input. Running
# out of memory is left out: a mail can cause that itself, and it must not stop the mailbox for good.
_ENVIRONMENT_ERRNOS = {getattr(errno, name) for name in
                       ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO", "EMFILE", "ENFILE")
                       if hasattr(errno, name)}


class HrbotError(Exception):
    """Base class; str(error) is the one line the CLI prints. Exit code 1."""

    exit_code = 1


class ConfigError(HrbotError):
    """The config folder has a mistake; the message names the file, the row and the problem. Exit 2."""

    exit_code = 2

    def __init__(self, file, problem: str, row: int | None = None):
        self.file = str(file)
        self.row = row
        self.problem = problem
        where = f"{self.file} 第 {row} 行" if row is not None else self.file
        super().__init__(f"{where}: {problem}")


class UsageError(HrbotError):
    """The command line was wrong. Exit 2."""

    exit_code = 2


class MailboxError(HrbotError):
    """The mailbox could not be read (login, network, folder)."""


class SendError(HrbotError):
    """An outgoing mail could not be delivered."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class StoreError(HrbotError):
    """The store (SQLite) or a file in the data folder could not be opened or written.

    An environment failure (a full disk, a refused permission), never a verdict on a message: the
    delivery being recorded is rolled back and read again by the next poll.
    """


def save_failed(path, error: OSError) -> StoreError:
    """The one line for a file hrbot could not write."""
    return StoreError(f"无法写入 {path}：{error.strerror or error}（请检查磁盘空间与文件夹权限；"
                      f"未能保存的邮件没有记录，问题解决后下次收取会重新处理）")


def environmental(error: BaseException) -> bool:
    """True for a failure of the machine or the store (a full disk, a refused permission, a damaged
    SQLite file): no verdict on the message being processed may follow from it."""
    # SQLite's own errors are named by their module: only bot.store imports sqlite3.
    if isinstance(error, StoreError) or type(error).__module__ == "sqlite3":
        return True
    return isinstance(error, OSError) and error.errno in _ENVIRONMENT_ERRNOS
