"""The peer: imap-tools reading the same mailbox the way its documentation shows, .docx opened with python-docx.

Run as its own process by bench/run.py: `python peer.py HOST PORT USER` with the password in
$BENCH_IMAP_PASSWORD. EXAMINEs INBOX, fetches every message in bulks of BULK (mark_seen=False:
BODY.PEEK[]), reads what imap-tools parses (subject, sender, text, html, attachments) and opens
every .docx attachment with python-docx, reading paragraphs and table cells. Prints one JSON line.
"""

import json
import os
import sys

from imap_tools import MailBoxUnencrypted

from docx_read import docx_text  # beside this script, on sys.path

BULK = 100


def main() -> None:
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    counts = {"messages": 0, "bytes": 0, "attachments": 0, "docx": 0, "docx_failed": 0, "docx_chars": 0}
    with MailBoxUnencrypted(host, port, timeout=120).login(user, os.environ["BENCH_IMAP_PASSWORD"],
                                                           initial_folder=None) as mailbox:
        mailbox.folder.set("INBOX", readonly=True)
        for message in mailbox.fetch(mark_seen=False, bulk=BULK):
            counts["messages"] += 1
            counts["bytes"] += message.size_rfc822
            message.subject, message.from_, message.date, message.text, message.html
            for attachment in message.attachments:
                counts["attachments"] += 1
                if attachment.filename.lower().endswith(".docx"):
                    try:
                        counts["docx_chars"] += docx_text(attachment.payload)
                        counts["docx"] += 1
                    except Exception:
                        counts["docx_failed"] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
