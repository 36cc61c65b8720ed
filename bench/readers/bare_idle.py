"""The idle floor: a bare imapclient script doing what an idle poll must (ID, STATUS, LOGOUT).

Run as its own process by bench/run.py: `python bare_idle.py HOST PORT USER`, password in
$BENCH_IMAP_PASSWORD. Its wall time, start-up included, is what `hrbot poll --once` with nothing
new is compared with.
"""

import os
import sys

from imapclient import IMAPClient


def main() -> None:
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = IMAPClient(host, port, ssl=False, timeout=30)
    client._imap.debug = 0
    client.login(user, os.environ["BENCH_IMAP_PASSWORD"])
    client.id_({"name": "bench", "version": "1"})
    status = client.folder_status("INBOX", ("MESSAGES", "UIDNEXT", "UIDVALIDITY"))
    client.logout()
    print(status[b"UIDNEXT"])


if __name__ == "__main__":
    main()
