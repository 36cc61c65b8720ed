"""The floor: the least work a correct reader does — every message fetched whole, parsed, each .docx opened.

Run as its own process by bench/run.py: `python floor.py HOST PORT USER` with the password in
$BENCH_IMAP_PASSWORD. SELECTs read-only, fetches BODY.PEEK[] + INTERNALDATE for BATCH UIDs a
command, parses each with the standard library's email package (compat32, the cheaper
policy; names and subjects decoded with email.header), decodes the text parts and opens every
.docx with python-docx, reading its paragraphs and table cells. Prints one JSON line of counts.
"""

import json
import os
import sys
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.policy import compat32

from imapclient import IMAPClient

from docx_read import docx_text  # beside this script, on sys.path

BATCH = 100
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def decoded(value) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # a header no decoder accepts is still a header: keep it as written
        return str(value)


def read(data: bytes, counts: dict) -> None:
    message = BytesParser(policy=compat32).parsebytes(data)
    decoded(message["Subject"]), decoded(message["From"])
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = decoded(part.get_filename()) if part.get_filename() else ""
        kind = part.get_content_type()
        payload = part.get_payload(decode=True) or b""
        if kind.startswith("text/") and not filename:
            payload.decode(part.get_content_charset() or "ascii", "replace")
            continue
        counts["attachments"] += 1
        if kind == DOCX or filename.lower().endswith(".docx"):
            try:
                counts["docx_chars"] += docx_text(payload)
                counts["docx"] += 1
            except Exception:
                counts["docx_failed"] += 1


def main() -> None:
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    counts = {"messages": 0, "bytes": 0, "attachments": 0, "docx": 0, "docx_failed": 0, "docx_chars": 0}
    client = IMAPClient(host, port, ssl=False, timeout=120)
    client._imap.debug = 0  # imapclient turns imaplib's formatting of every line on; the least work is without
    client.login(user, os.environ["BENCH_IMAP_PASSWORD"])
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search("ALL"))
    for start in range(0, len(uids), BATCH):
        chunk = uids[start:start + BATCH]
        fetched = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in sorted(fetched):
            data = fetched[uid][b"BODY[]"]
            counts["messages"] += 1
            counts["bytes"] += len(data)
            read(data, counts)
        del fetched
    client.logout()
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
