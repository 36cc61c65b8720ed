"""The one error tree: every failure HR can act on is an HrbotError with one plain line."""


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
    """The store (SQLite) could not be opened or written."""
