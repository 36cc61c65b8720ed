"""The bytes of each planned message, written the way Chinese mail clients and newsletters write them."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta
from email.utils import format_datetime

from bench import docs, words
from bench.season import HR_ADDRESS, YEAR, Doc, Spec


def build(spec: Spec) -> bytes:
    """The raw bytes of one planned message (CRLF line ends, as a server stores them)."""
    from bot.demo import build_message

    rng = random.Random(spec.seed)
    address, name = spec.sender
    sent = spec.when - timedelta(seconds=rng.randint(5, 90))
    message_id = f"<{spec.when:%Y%m%d%H%M%S}.{spec.seed % 10**8:08d}@{address.split('@')[1]}>"
    style = rng.choice(("outlook", "foxmail", "rfc2231", "utf8"))
    if spec.kind == "meeting":
        return build_message(address, name, HR_ADDRESS, "述职大会时间申请", spec.text, (), style,
                             sent=sent, message_id=message_id)
    if spec.kind == "submission":
        files = [_document(rng, d, spec.big_bytes if n == 0 else 0) for n, d in enumerate(spec.docs)]
        if rng.random() < 0.05:  # a logo from the mail signature
            files.append(("image001.png", docs.png(rng, rng.randint(3, 12) * docs.KB)))
        unit = spec.docs[0].unit
        subject = rng.choice((f"{unit}述职材料", "述职报告", f"{unit}{files[0][0].rsplit('.', 1)[0]}",
                              "回复：关于做好2025年度科级干部述职考核工作的通知", "考核材料，请查收"))
        text = rng.choice(("附件是述职材料，请查收。", "请查收，谢谢！", f"人力资源科：\n附件为{unit}的材料，请审阅。",
                           "材料已按要求填写，如有问题请联系。"))
        return build_message(address, name, HR_ADDRESS, subject, text, files, style, sent=sent,
                             message_id=message_id)
    if spec.kind == "newsletter":
        return _newsletter(rng, address, name, sent, message_id)
    if spec.kind == "auto":
        return build_message(address, name, HR_ADDRESS, "自动回复：" + rng.choice(words.NOTICE_TITLES),
                             "您好，我正在休假，期间邮件将延迟处理。", (), style, sent=sent, message_id=message_id,
                             headers={"Auto-Submitted": "auto-replied"})
    body = "\n".join(docs.sentences(rng, words.MAIL_SENTENCES, rng.randint(2, 40)))
    files = []
    if spec.kind == "notice":
        if rng.random() < 0.5:
            index = rng.randrange(len(words.NOTICE_TITLES))
            files.append((words.NOTICE_TITLES[index] + ".docx", docs.notice(index)))
        else:
            extension = rng.choice((".pdf", ".xlsx", ".jpg"))
            size = spec.big_bytes or rng.randint(30, 400) * docs.KB  # planned for the light corpus
            files.append((f"{rng.choice(words.NOTICE_TITLES)}{extension}", docs.opaque(rng, extension, size)))
    elif spec.kind == "large":
        extension = rng.choice((".pdf", ".jpg", ".zip", ".pptx", ".rar"))
        files.append((f"{rng.choice(('扫描件', '现场照片', '资料汇编', '汇报材料', '图纸'))}{extension}",
                      docs.opaque(rng, extension, spec.big_bytes)))
    subject = rng.choice(words.NOTICE_TITLES) if files else rng.choice(("你好", "关于合同", "会议通知", "回复：请确认",
                                                                         "转发：生产例会纪要", "月度报表"))
    return _mail(address, name, subject, body, files, sent, message_id, rng)


def _document(rng: random.Random, d: Doc, big_bytes: int) -> tuple[str, bytes]:
    size = rng.randint(20, 60) * docs.KB
    if d.kind == "personal":
        filename = rng.choice((f"{d.person}个人述职报告.docx", f"附件2-{d.person}-{YEAR}年度个人述职报告（定稿）.docx",
                               f"{d.unit}{d.person}述职报告.docx", f"{d.person}述职报告.docx"))
        return filename, docs.personal_report(rng, d.unit, d.person, d.post, size, big_bytes)
    if d.kind == "team":
        return f"{d.unit}班子述职报告.docx", docs.team_report(rng, d.unit, d.person, size)
    if d.kind == "review":
        return (f"民主评议考核表-{d.person}.docx",
                docs.review(rng, d.unit, d.person, d.post, d.reviewer, d.reviewer_post, size))
    return f"{d.unit}民主评议意见.docx", docs.union_review(rng, d.unit, d.person, d.members, size)


def _newsletter(rng: random.Random, address: str, name: str, sent: datetime, message_id: str) -> bytes:
    paragraphs = docs.sentences(rng, words.NEWS_SENTENCES, rng.randint(20, 160))
    text = "\n\n".join(paragraphs)
    site = address.split("@")[1]
    html = ("<html><head><meta charset=\"utf-8\"><style>p{font-size:14px;color:#333}</style></head><body>"
            + "".join(f"<p style=\"margin:8px 0\">{p}<a href=\"https://{site}/a/{rng.getrandbits(40)}\">"
                      "详情</a></p>" for p in paragraphs) + "</body></html>")
    boundary = f"----=_Part_{rng.getrandbits(48):x}"
    subject = _word(rng.choice(words.NEWS_SENTENCES)[:20])
    head = [f"From: {_word(name)} <{address}>", f"To: {HR_ADDRESS}", f"Subject: {subject}",
            f"Date: {format_datetime(sent)}", f"Message-ID: {message_id}",
            f"List-Unsubscribe: <mailto:unsubscribe@{site}>", "Precedence: bulk",
            "MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    parts = []
    for kind, body in (("plain", text), ("html", html)):
        parts += [f"--{boundary}", f'Content-Type: text/{kind}; charset="utf-8"', "Content-Transfer-Encoding: base64",
                  "", _b64(body.encode("utf-8"))]
    return ("\r\n".join(head + parts + [f"--{boundary}--", ""])).encode("ascii")


def _mail(address: str, name: str, subject: str, body: str, files: list, sent: datetime, message_id: str,
          rng: random.Random) -> bytes:
    """Plain mail with attachments as a desktop client writes it, GBK text as many Chinese clients do."""
    charset = rng.choice(("GBK", "utf-8"))
    codec = "gb18030" if charset == "GBK" else "utf-8"
    boundary = f"----=_NextPart_{rng.getrandbits(48):x}"
    lines = [f"From: {_word(name, charset)} <{address}>", f"To: {HR_ADDRESS}", f"Subject: {_word(subject, charset)}",
             f"Date: {format_datetime(sent)}", f"Message-ID: {message_id}", "MIME-Version: 1.0"]
    text_part = [f'Content-Type: text/plain; charset="{charset}"', "Content-Transfer-Encoding: base64", "",
                 _b64(body.encode(codec))]
    if not files:
        return ("\r\n".join(lines + text_part + [""])).encode("ascii")
    lines += [f'Content-Type: multipart/mixed; boundary="{boundary}"', "", f"--{boundary}"] + text_part
    for filename, data in files:
        kind = _content_type(filename)
        encoded = _word(filename, charset)
        lines += [f"--{boundary}", f'Content-Type: {kind};\r\n\tname="{encoded}"', "Content-Transfer-Encoding: base64",
                  f'Content-Disposition: attachment;\r\n\tfilename="{encoded}"', "", _b64(data)]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def _content_type(filename: str) -> str:
    return {
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "zip": "application/zip",
        "rar": "application/x-rar-compressed",
    }.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _word(text: str, charset: str = "utf-8") -> str:
    if text.isascii():
        return text
    codec = "gb18030" if charset.lower() in ("gbk", "gb2312") else charset
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def _b64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


def write(job: tuple) -> tuple[str, int, int]:
    """Build one message and deliver it into the Maildir (run in worker processes); (kind, bytes, documents)."""
    from bench.mailbox import deliver

    maildir, owner, seq, spec = job
    data = build(spec)
    deliver(maildir, owner, seq, spec.when.timestamp(), data, spec.flags)
    return spec.kind, len(data), len(spec.docs)
