"""decode(): one hand-built raw message per client or charset quirk, in tests/data/mail/."""

from __future__ import annotations

import email
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.intake.decode import content_hash, decode, html_to_text
from bot.mime.charsets import decode_bytes
from bot.mime.names import decode_words, lenient_base64, params, sender
from bot.mime.parts import name_part
from bot.records import Mail, Part

MAIL = Path(__file__).parent / "data" / "mail"
TEAM = "合成车间班子述职报告.docx"
WANG = "王珺个人述职报告.docx"
DOCX = b"PK\x03\x04fake-docx-bytes"
PDF = b"%PDF-1.4\n%fake\n"


def load(name: str) -> Mail:
    return decode((MAIL / name).read_bytes())


def names(mail: Mail) -> list[str | None]:
    return [part.filename for part in mail.parts]


# --- file names, one client quirk each ---------------------------------------------------


def test_filename_outlook_quoted_encoded_word():
    # Outlook 2016 writes RFC 2047 words inside the quoted name/filename; RFC 2047 §5 forbids
    # encoded words in quoted strings, so compat32 leaves them encoded.
    mail = load("001-outlook-quoted-gb2312-name.eml")
    assert names(mail) == [TEAM]
    assert mail.parts[0].content_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert mail.parts[0].data == DOCX
    assert mail.subject == "合成车间班子述职报告"
    assert (mail.from_addr, mail.from_name) == ("lijianguo@tengfei.example", "李建国")
    assert mail.message_id == "<20261203100000.A1@tengfei.example>"
    assert mail.text == "人力资源科：\n附件是合成车间班子述职报告，请查收。\n"


def test_filename_encoded_words_split_mid_character():
    # Encoders that fold by byte count cut a GBK character (车 = B3 B5) between two words,
    # although RFC 2047 §5 wants whole characters per word; policy.default yields U+FFFD here.
    mail = load("002-split-encoded-words.eml")
    assert names(mail) == [TEAM]
    assert mail.subject == "转发：合成车间班子述职报告"


def test_filename_unquoted_encoded_word():
    # name==?UTF-8?B?...?= unquoted (joruri-mail's attachment/invalid_quotation.eml fixture);
    # "=" and "?" are not token characters (RFC 2045 §5.1), and policy.default drops the
    # name altogether.
    assert names(load("003-unquoted-encoded-word.eml")) == [WANG]


def test_filename_rfc2231_continuation_with_gb2312_charset():
    # RFC 2231 §3 (continuations filename*0*, filename*1*) and §4 (charset'lang' prefix), the
    # form Apple Mail writes for long names (ruby-mail japanese_attachment_long_name.eml).
    assert names(load("004-rfc2231-continuation-gb2312.eml")) == [TEAM]


def test_filename_gbk_under_gb2312_label():
    # Windows code page 936 is GBK, but Outlook and Foxmail label it gb2312: 珺 (AC 42) and
    # 镕 (E9 46) are not in GB 2312, so a strict gb2312 decoder fails on them.
    mail = load("005-gbk-char-under-gb2312-label.eml")
    assert names(mail) == [WANG]
    assert mail.subject == "王珺、朱镕个人述职报告"


def test_filename_raw_utf8_bytes():
    # No encoding at all, UTF-8 bytes in the header (RFC 6532 §3.2 allows it; webmails and
    # Apple Mail send it, e.g. ruby-mail's attachment_nonascii_filename.eml).
    assert names(load("006-8bit-utf8-name.eml")) == [WANG]


def test_filename_raw_gbk_bytes_in_gb2312_message():
    # Raw GBK bytes in a quoted filename, written in the message's own charset (Zammad's
    # real-world mail015.box from a Chinese sender has exactly this).
    mail = load("007-8bit-gbk-name.eml")
    assert names(mail) == [TEAM]
    assert mail.subject == "合成车间班子述职报告"


def test_filename_wins_over_content_type_name():
    # Contract "File names": Content-Disposition filename (RFC 2183 §2.3) wins over the
    # older Content-Type name (RFC 2046 §4.5.1 calls it deprecated) when they disagree.
    assert names(load("009-filename-beats-name.eml")) == [TEAM]


def test_filename_iso2022jp_with_nec_character():
    # Outlook on Japanese Windows labels CP50220 text ISO-2022-JP: ① (JIS 2D21, NEC row 13)
    # is not in JIS X 0208, and Python's iso2022_jp codecs reject it.
    mail = load("020-iso2022jp-nec-name.eml")
    assert names(mail) == ["①報告.txt"]
    assert mail.subject == "報告"


def test_filename_control_characters_removed_and_nfc():
    # php-mime-mail-parser issue250: an encoded word decoding to a name with a newline;
    # Zammad mail064: macOS writes names decomposed (NFD).  Contract: NFC, controls removed.
    (name,) = names(load("021-name-newline-nfd.eml"))
    assert name == "Capture d’écran2026.png"
    assert unicodedata.is_normalized("NFC", name)


# --- which parts are attachments ---------------------------------------------------------


def test_html_only_body_gb2312_becomes_plain_text():
    # Clients set to send HTML only (no text/plain alternative); Outlook writes each line as
    # its own <p>.  Script and style are not text a person reads.
    mail = load("008-html-only-gb2312.eml")
    assert mail.parts == []
    assert mail.subject == "述职大会时间申请"
    assert mail.text == (
        "人力资源科：\n附件是合成车间述职大会时间申请。\n日期：2026年12月10日\n单位 合成车间\n人数 12"
    )


def test_inline_image_without_name_is_a_nameless_part():
    # RFC 2387 multipart/related: a pasted image carries only a Content-ID.  Contract: a part
    # that is not text is listed, with a null file name.
    mail = load("010-inline-image-no-name.eml")
    assert [(p.filename, p.content_type, p.inline) for p in mail.parts] == [
        (None, "image/png", True)
    ]
    assert mail.text == "见图"


def test_toplevel_document_is_a_part():
    # Scan-to-mail on office MFPs sends the document as the whole message (no multipart).
    mail = load("011-toplevel-pdf.eml")
    assert [(p.filename, p.content_type, p.data) for p in mail.parts] == [
        ("scan0001.pdf", "application/pdf", PDF)
    ]
    assert mail.text == ""


def test_forwarded_message_without_name_is_one_part_named_by_subject():
    # Outlook "forward as attachment" sends message/rfc822 with no file name; contract
    # "Containers": named by its subject plus .eml, and not descended into here.
    mail = load("012-forward-rfc822-no-name.eml")
    (part,) = mail.parts
    assert (part.filename, part.content_type) == ("王珺个人述职报告.eml", "message/rfc822")
    inner = decode(part.data)
    assert inner.subject == "王珺个人述职报告"
    assert inner.message_id == "<inner-1@tengfei.example>"
    assert inner.text == "请审阅。\n"


def test_apple_mail_inline_part_with_name_is_listed():
    # Apple Mail sends attached PDFs as Content-Disposition: inline with a filename, in the
    # RFC 2231 form (Zammad mail073, X-Mailer: Apple Mail).
    mail = load("017-apple-inline-named.eml")
    assert [(p.filename, p.inline, p.data) for p in mail.parts] == [
        ("王珺个人述职报告.pdf", True, PDF)
    ]


def test_bounce_lists_report_and_returned_message_without_names():
    # RFC 3462 multipart/report (Postfix bounce): delivery-status and the returned message
    # are parts, listed as the structure shows them (no synthesised names).
    mail = load("018-bounce-report.eml")
    assert [(p.filename, p.content_type) for p in mail.parts] == [
        (None, "message/delivery-status"),
        (None, "message/rfc822"),
    ]
    assert b"Status: 5.1.1" in mail.parts[0].data
    assert decode(mail.parts[1].data).subject == "reminder"
    assert mail.headers["Auto-Submitted"] == "auto-replied"


def test_two_parts_with_the_same_name_are_both_listed():
    # Contract "File names": two parts with the same name are both listed (a resent version).
    mail = load("019-same-name-twice.eml")
    assert names(mail) == [WANG, WANG]
    assert mail.parts[0].data != mail.parts[1].data


# --- sender and identity -----------------------------------------------------------------


def test_display_name_that_looks_like_an_address_never_identifies():
    # Contract "The sender": only the address inside the angle brackets counts.
    mail = load("013-display-name-spoof.eml")
    assert mail.from_addr == "evil@elsewhere.example"
    assert mail.from_name == "lijianguo@tengfei.example"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"li@x.example" <evil@y.example>', ("evil@y.example", "li@x.example")),
        ("li@x.example <Evil@Y.example>", ("evil@y.example", "li@x.example")),
        ("LiJianGuo@Tengfei.Example", ("lijianguo@tengfei.example", "")),
        ("=?gb2312?B?wO69qLn6?= <li@x.example>", ("li@x.example", "李建国")),
        # A raw comma inside a Q word (Zammad mail065) must not split the header.
        (
            "=?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>",
            ("smith@example.com", "Bürling, Andreas"),
        ),
        ("=?utf-8?Q?Doe=2C_John?= <j@x.example>", ("j@x.example", "Doe, John")),
        ("undisclosed", (None, "undisclosed")),
        ("", (None, "")),
    ],
)
def test_sender(header, expected):
    assert sender(header) == expected


def test_missing_message_id_is_none():
    # RFC 5322 §3.6.4 makes Message-ID a SHOULD; scanners and scripts omit it.
    mail = load("014-no-message-id.eml")
    assert mail.message_id is None
    assert mail.in_reply_to is None and mail.references is None


def test_content_hash_covers_sender_subject_text_and_parts():
    one = Part("a.docx", "application/octet-stream", b"1")
    two = Part("a.docx", "application/octet-stream", b"2")
    base = content_hash("li@x.example", "s", "t", [one])
    assert base == content_hash("li@x.example", "s", "t", [Part("b.docx", "x/y", b"1")])
    assert base != content_hash("li@x.example", "s", "t", [two])
    assert base != content_hash("li@x.example", "s", "t", [one, one])
    # Separators: fields cannot run into each other.
    assert content_hash("a", "bc", "", []) != content_hash("ab", "c", "", [])
    assert content_hash(None, "", "", [Part(None, "x/y", b"ab")]) != content_hash(
        None, "", "", [Part(None, "x/y", b"a"), Part(None, "x/y", b"b")]
    )
    raw = (MAIL / "019-same-name-twice.eml").read_bytes()
    assert decode(raw).content_hash == decode(raw).content_hash


# --- damaged mail ------------------------------------------------------------------------


def test_broken_base64_keeps_what_can_be_recovered():
    # A stray "*", a junk line and a dangling final character (length 4n+1): the stdlib
    # returns the still-encoded text there (bpo-27397); clients recover the bytes.
    (part,) = load("015-broken-base64.eml").parts
    assert part.filename == "broken.pdf"
    assert part.data == PDF + PDF + b"%PD"


def test_truncated_multipart_lists_parts_up_to_the_cut():
    # A delivery cut off by a full disk or a dropped connection: no closing boundary.
    mail = load("016-truncated-multipart.eml")
    assert names(mail) == [TEAM, WANG]
    assert mail.parts[0].data == DOCX
    assert (DOCX * 20).startswith(mail.parts[1].data) and mail.parts[1].data


def test_header_block_damage_is_repaired():
    # A BOM before the first header (joruri-mail utf-8-8bit.eml), a junk first line (Kerio,
    # Zammad mail068) and continuation lines that lost their indent (Zammad mail054).
    raw = (
        b"\xef\xbb\xbf---- Original email message ----\r\n"
        b"Received: from a\r\nby b with SMTP\r\n"
        b"From: =?utf-8?B?5p2O5bu65Zu9?= <li@x.example>\r\nSubject : hi\r\n\r\nbody\r\n"
    )
    mail = decode(raw)
    assert (mail.from_addr, mail.from_name) == ("li@x.example", "李建国")
    assert (mail.subject, mail.text) == ("hi", "body\n")
    assert decode(b"just text\nnote: this is not a header\n\nmore").text.startswith("just text")


FIXTURES = sorted(p.read_bytes() for p in MAIL.glob("*.eml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIXTURES),
    st.integers(0, 4000),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
)
def test_decode_never_raises_on_damaged_fixtures(raw, cut, flips):
    data = bytearray(raw[:cut] if cut < len(raw) else raw)
    for at, value in flips:
        if data:
            data[at % len(data)] = value
    assert isinstance(decode(bytes(data)), Mail)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_decode_never_raises_on_garbage(raw):
    mail = decode(raw)
    assert isinstance(mail, Mail) and isinstance(mail.text, str)


def test_decode_stays_fast_on_hostile_headers():
    # Quadratic regexes or parameter scans would take minutes here; real mail takes ms.
    raw = (
        b"From: " + b"<a@b " * 20000 + b"\r\n"
        b"Subject: " + b"=?utf-8?B?" * 50000 + b"\r\n"
        b"Content-Type: application/pdf; " + b"a;" * 50000
        + b'name="' + b"=?x?Q?" * 20000 + b"\r\n\r\nx"
    )
    started = time.perf_counter()
    mail = decode(raw)
    assert time.perf_counter() - started < 5
    assert isinstance(mail, Mail)


def test_deeply_nested_multipart_does_not_raise():
    # A nesting bomb makes the stdlib parser recurse too deep; the sender is still read.
    raw = b"Content-Type: text/plain\r\n\r\n"
    for i in range(3000):
        head = b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        raw = head + raw + b"\r\n--b%d--\r\n" % i
    mail = decode(b"From: a@b.example\r\nSubject: deep\r\n" + raw)
    assert (mail.from_addr, mail.subject) == ("a@b.example", "deep")


# --- the decoding primitives -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "label", "text"),
    [
        ("王珺".encode("gbk"), "gb2312", "王珺"),  # the gb mapping: GB18030 reads GBK
        ("王珺".encode("gbk"), "x-gbk", "王珺"),
        ("王珺".encode("gbk"), "no-such-charset", "王珺"),  # unknown label: the candidates
        ("café".encode(), "iso-8859-1", "cafÃ©"),  # the declared one wins when it decodes
        ("王珺".encode(), None, "王珺"),  # UTF-8 before GB18030
        ("中文，測試".encode("big5"), None, "中文，測試"),  # GB18030 gives private-use: Big5
        (b"caf\xe9", None, "café"),  # Latin-1 last
        (b"caf\xe9", "utf-8", "café"),  # the declared one fails: candidates
        ("テスト".encode("shift_jis"), "shift_jis", "テスト"),
        ("테스트".encode("euc-kr"), "ks_c_5601-1987", "테스트"),
        ("テスト".encode("iso-2022-jp"), None, "テスト"),  # 7-bit JIS found by its escapes
    ],
)
def test_decode_bytes_candidates(data, label, text):
    assert decode_bytes(data, label) == text


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([None, "gb2312", "utf-8", "big5", "sjis", "bogus"]))
def test_decode_bytes_never_replaces_what_a_candidate_decodes(data, label):
    # Latin-1 decodes everything, so U+FFFD may only come from bytes that spell it.
    text = decode_bytes(data, label)
    assert "\ufffd" not in text or b"\xef\xbf\xbd" in data or b"\x84\x31\xa4\x37" in data


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("=?utf-8?B?546L?= =?utf-8?B?54+6?=", "王珺"),  # white space between words dropped
        ("Re: =?utf-8?B?546L54+6?= 报告", "Re: 王珺 报告"),  # but kept next to plain text
        ("=?gb2312?Q?=CD=F5?=\r\n\t=?utf-8?B?54+6?=", "王珺"),  # one run per charset
        ("=?utf-8?Q?a_b?=", "a b"),
        ("=?utf-8?B?546L5?= =?utf-8?B?4+6?=", "王珺"),  # base64 cut mid-quantum
        ("=?utf-8*zh?B?546L?=", "王"),  # RFC 2231 §5 language tag
        ("=?utf-8?B?!!!?=", ""),
        ("plain", "plain"),
    ],
)
def test_decode_words(value, text):
    assert decode_words(value) == text


def test_params_keep_semicolons_and_escapes_in_quotes():
    found = params('attachment; filename="a;b \\"c\\".txt"; size=3; filename="second.txt"')
    assert found == {"filename": 'a;b "c".txt', "size": "3"}


def test_rfc2231_form_beats_the_plain_one():
    header = "attachment; filename=\"fallback.docx\"; filename*=UTF-8''%E7%8E%8B%E7%8F%BA.docx"
    assert name_part("application/octet-stream", "attachment", {}, params(header), True, None).filename == "王珺.docx"


def test_lenient_base64_concatenated_chunks():
    assert lenient_base64(b"QQ==QkM=") == b"ABC"
    assert lenient_base64(b"") == b""


def test_html_to_text_survives_broken_markup():
    assert html_to_text("<p>a<![if x]>b</p><!unknown") .startswith("a")


def test_headers_are_the_parsed_message():
    mail = load("001-outlook-quoted-gb2312-name.eml")
    assert isinstance(mail.headers, email.message.Message)
    assert mail.headers["X-Mailer"] == "Microsoft Outlook 16.0"


def test_crlf_and_lf_deliveries_hash_the_same():
    # IMAP hands messages over with CRLF, a Maildir keeps them with LF: same content.
    for path in sorted(MAIL.glob("*.eml")):
        raw = path.read_bytes()
        lf = raw.replace(b"\r\n", b"\n")
        assert decode(raw).content_hash == decode(lf).content_hash, path.name
