"""Tests for bot.settings against the example config HR copies, and the mistakes HR makes in it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import (
    Evaluation,
    EXAMPLE_CONFIG, SETTINGS_FILE, Hr, Limits, Mailbox, MailStyle, Paths, Reminders, Schedule, Season, Sending, load,
)

EXAMPLE = (EXAMPLE_CONFIG / SETTINGS_FILE).read_text(encoding="utf-8")
OPTIONAL_MARKER = "# ==== 可选设置"


def write(folder: Path, text: str) -> Path:
    (folder / SETTINGS_FILE).write_text(text, encoding="utf-8")
    return folder


def edited(old: str, new: str, text: str = EXAMPLE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, start: str) -> int:
    """The 1-based number of the first line that starts with `start`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def uncommented(text: str, first: str, last: str | None = None) -> str:
    """The text with the commented-out settings between two marker lines made live."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next((i for i, line in enumerate(lines) if last and i > start and line.startswith(last)), len(lines))
    setting = re.compile(r"#\s?(\[[\w.]+\].*|\"?\w+\"?\s*=.*)")
    for i in range(start + 1, end):
        match = setting.fullmatch(lines[i])
        if match:
            lines[i] = match.group(1)
    return "\n".join(lines) + "\n"


def test_settings_example_loads(monkeypatch):
    monkeypatch.chdir(EXAMPLE_CONFIG.parent)
    s = load(Path("config"))
    assert s.season.year == 2026
    assert str(s.season.timezone) == "Asia/Shanghai"
    assert s.season.meeting_request_due == date(2026, 11, 25)
    assert s.season.union_review_due == date(2026, 12, 18)
    assert s.season.final_due == date(2026, 12, 31)
    assert (s.season.report_workdays_before_meeting, s.season.review_workdays_after_meeting) == (3, 3)
    assert s.season.reserve_recommendation_due is None
    assert s.mailbox.kind == "maildir" and s.mailbox.path == EXAMPLE_CONFIG / "mail" / "inbox"
    assert s.hr.address == "hr@tengfei.example" and s.hr.name == "人力资源科"
    assert s.sending.kind == "spool"
    assert s.paths.data == EXAMPLE_CONFIG / "data"
    assert s.paths.outbox == EXAMPLE_CONFIG / "outbox"
    assert s.paths.tracker == EXAMPLE_CONFIG / "tracker"


def test_settings_example_documents_every_key():
    # Every key the loader reads appears in the example, live or as a commented-out example.
    documented = set(re.findall(r"^#?\s*(\w+)\s*=", EXAMPLE, re.MULTILINE))
    sections = [Season, Mailbox, Hr, Sending, Paths, Reminders, Schedule, MailStyle, Limits]
    keys = {name for cls in sections for name in cls._fields} - {"timezone", "leaders"}
    assert keys - documented == set()
    assert "timezone" in documented and "[reminders.leaders]" in EXAMPLE
    assert "require_authentication" in documented


def test_settings_optional_examples_are_the_defaults(tmp_path):
    s = load(write(tmp_path, uncommented(EXAMPLE, OPTIONAL_MARKER)))
    assert s.reminders._replace(leaders={}) == Reminders()
    assert s.reminders.leaders["生产技术科"] == ("zhangqiang@tengfei.example", "liumin@tengfei.example")
    assert s.schedule == Schedule()
    assert s.mail.script == "simplified"
    assert s.limits == Limits()
    assert s.require_authentication is True
    assert s.evaluation == Evaluation()


def test_settings_reserve_recommendation_example(tmp_path):
    text = edited("# reserve_recommendation_due", "reserve_recommendation_due")
    assert load(write(tmp_path, text)).season.reserve_recommendation_due == date(2026, 12, 18)


def test_settings_imap_example(tmp_path):
    text = uncommented(edited('kind = "maildir"', 'kind = "imap"'), '# --- kind = "imap"', '# --- kind = "ews"')
    box = load(write(tmp_path, text)).mailbox
    assert (box.kind, box.host, box.port, box.security) == ("imap", "mail.tengfei.example", 993, "ssl")
    assert box.password_env == "HRBOT_IMAP_PASSWORD" and box.since == date(2026, 11, 1)
    assert box.ca_file == tmp_path / "certs" / "plant-ca.pem"


def test_settings_ews_example(tmp_path):
    text = uncommented(edited('kind = "maildir"', 'kind = "ews"'), '# --- kind = "ews"', "[hr]")
    box = load(write(tmp_path, text)).mailbox
    assert box.kind == "ews" and box.server == "mail.tengfei.example" and box.username == "TENGFEI\\hr"


def test_settings_smtp_example(tmp_path):
    text = uncommented(edited('kind = "spool"', 'kind = "smtp"'), '# --- kind = "smtp"', "[paths]")
    sending = load(write(tmp_path, text)).sending
    assert (sending.kind, sending.host, sending.port) == ("smtp", "smtp.tengfei.example", 587)
    assert sending.security == "starttls" and sending.max_replies_per_sender_per_day == 20


def test_settings_syntax_error_names_file_and_line(tmp_path):
    text = edited("year = 2026 ", "year = 2026年 ")
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert "settings.toml 第 " in str(caught.value)
    assert caught.value.row == line_of(text, "year =")


def test_settings_impossible_date_names_its_line(tmp_path):
    text = edited("final_due = 2026-12-31", "final_due = 2026-02-30")
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert "settings.toml" in str(caught.value) and caught.value.row == line_of(text, "final_due")


def test_settings_date_as_text_names_the_key_line(tmp_path):
    text = edited("union_review_due = 2026-12-18", 'union_review_due = "2026/12/18"')
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    row = line_of(text, "union_review_due")
    assert f"settings.toml 第 {row} 行: [season] union_review_due" in str(caught.value)
    assert "2026/12/18" in str(caught.value)


def test_settings_unknown_mailbox_kind(tmp_path):
    text = edited('kind = "maildir"', 'kind = "pop3"')
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert caught.value.row == line_of(text, 'kind = "pop3"')
    assert "“pop3”无效" in str(caught.value) and "maildir / imap / ews" in str(caught.value)


def test_settings_line_found_under_a_commented_section_header(tmp_path):
    text = edited('kind = "maildir"', 'kind = "pop3"', edited("[mailbox]", "[mailbox]  # 收件箱"))
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert caught.value.row == line_of(text, 'kind = "pop3"')


def test_settings_missing_season(tmp_path):
    text = EXAMPLE[:EXAMPLE.index("[season]")] + EXAMPLE[EXAMPLE.index("# 收件箱"):]
    with pytest.raises(ConfigError, match=r"settings\.toml: 缺少 \[season\] 一节"):
        load(write(tmp_path, text))


@pytest.mark.parametrize("typo, line, hint", [
    ("[reminder]\ndays_before = 3", "[reminder]", "未知的设置 [reminder].*您是否想写 [reminders]？"),
    ("[limits]\nmesage_bytes = 3", "mesage_bytes", "未知的设置 [limits] mesage_bytes.*您是否想写 message_bytes？"),
    ("[service]\nfrobnicate = 3", "frobnicate", "未知的设置 [service] frobnicate.*可用的名称：log_file、"),
    ("[reminders.leader]\n\"合成车间\" = [\"a@tengfei.example\"]", "[reminders.leader]", "您是否想写 leaders？"),
])
def test_settings_unknown_names_are_refused_with_the_line_and_the_nearest_name(tmp_path, typo, line, hint):
    text = EXAMPLE + "\n" + typo + "\n"
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert caught.value.row == line_of(text, line)
    assert re.search(hint.replace("[", r"\[").replace("]", r"\]"), str(caught.value)), str(caught.value)
    assert caught.value.exit_code == 2


def test_settings_key_above_every_section_is_refused_and_placed(tmp_path):
    text = "year = 2026\n" + EXAMPLE
    with pytest.raises(ConfigError, match=r"第 1 行: 未知的设置 year.*\[season\] 一节中的 year"):
        load(write(tmp_path, text))


def test_settings_known_names_follow_the_definitions():
    from bot.settings import Settings, known_names

    names = known_names()
    assert set(names) >= {"season", "mailbox", "hr", "sending", "paths", "reminders", "limits", "service", "security"}
    assert names["limits"] == dict.fromkeys(Limits._fields, False)
    assert names["reminders"]["leaders"] is True  # a table of names HR chooses
    assert "lock_wait_seconds" in names["service"]
    assert all(section in names for section, kind in Settings.__annotations__.items()
               if getattr(kind, "__forward_arg__", "") in {"Season", "Limits", "ServiceOptions"})


def test_settings_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"settings\.toml: 找不到设置文件"):
        load(tmp_path)


def test_settings_evaluation_weights_must_sum_to_one(tmp_path, capsys):
    text = EXAMPLE + "\n[evaluation]\ncomposite_weights = { ballot = 0.5, daily = 0.3, performance = 0.3 }\n"
    with pytest.raises(ConfigError, match=r"composite_weights: 各项权重之和应为 1（现为 1.1）"):
        load(write(tmp_path, text))
    from bot.cli import main

    assert main(["--config", str(tmp_path), "results"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "第 " in err and "权重之和应为 1" in err


def test_settings_evaluation_channel_weights_and_classes(tmp_path):
    text = EXAMPLE + ('\n[evaluation]\nchannel_weights = { staff = 0.5, heads = 0.0, plant = 0.25, peers = 0.25 }\n'
                      'classes = [{ name = "A", top_share = 0.3 }, { name = "B", min_score = 60 }]\n')
    ev = load(write(tmp_path, text)).evaluation
    assert ev.channel_weights["staff"] == 0.5 and ev.classes == (("A", "top_share", 0.3), ("B", "min_score", 60.0))
    bad = EXAMPLE + '\n[evaluation]\nchannel_weights = { staff = 0.5, heads = 0.5, plant = 0.2, peers = 0.2 }\n'
    with pytest.raises(ConfigError, match="channel_weights"):
        load(write(tmp_path, bad))
