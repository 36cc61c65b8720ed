"""Reminders over National Day 2026: who gets which digest on which day, exactly once; dry run; kickoff."""

from __future__ import annotations

import email
from datetime import date
from email import policy

import pytest
from conftest import at, deliver

from bot.demo import build_message
from bot.out.kickoff import kickoff
from bot.poll import poll_once
from bot.out.reminders import remind
from bot.settings import load
from bot.store import Store
from parsers import forms

HR = "hr@tengfei.example"
LEADER = "leader@tengfei.example"

# A season that runs through the National Day week: Oct 1-7 are off, Saturday Oct 10 is a
# make-up working day (调休), Sunday Oct 11 is off.
SETTINGS = """
[season]
year = 2026
timezone = "Asia/Shanghai"
meeting_request_due = 2026-09-25
union_review_due = 2026-10-12
final_due = 2026-10-30

[mailbox]
kind = "maildir"
path = "mail/inbox"

[hr]
address = "hr@tengfei.example"

[sending]
kind = "spool"

[reminders]
{reminders}

[reminders.leaders]
"合成车间" = ["leader@tengfei.example"]
"""
UNITS = """单位,类型,人数,述职大会日期
合成车间,车间,126,2026-10-09
设备动力科,科室,31,
"""
PEOPLE = """单位,姓名,角色,邮箱
合成车间,李建国,主要领导,lijianguo@tengfei.example
合成车间,张海燕,党支部书记,zhanghaiyan@tengfei.example
合成车间,王珺,副职,wangjun@tengfei.example
合成车间,刘洋,科级干部,liuyang@tengfei.example
合成车间,陈静,分会主席,chenjing@tengfei.example
设备动力科,高建华,主要领导,gaojianhua@tengfei.example
设备动力科,罗斌,党支部书记,luobin@tengfei.example
设备动力科,梁红,分会主席,lianghong@tengfei.example
"""
LI, ZHANG, CHEN = "lijianguo@tengfei.example", "zhanghaiyan@tengfei.example", "chenjing@tengfei.example"
GAO, LIANG = "gaojianhua@tengfei.example", "lianghong@tengfei.example"
HC, SB = "合成车间", "设备动力科"


def season(config_dir, reminders: str = "", mail: str = ""):
    (config_dir / "settings.toml").write_text(SETTINGS.format(reminders=reminders) + mail, encoding="utf-8")
    (config_dir / "units.csv").write_text(UNITS, encoding="utf-8")
    (config_dir / "people.csv").write_text(PEOPLE, encoding="utf-8")
    return load(config_dir)


@pytest.fixture
def oct_settings(config_dir):
    return season(config_dir)


def send(settings, when: str, sender: tuple[str, str], subject: str, attachments=(), text="请查收。"):
    deliver(settings, at(when), build_message(sender[0], sender[1], HR, subject, text, attachments, sent=at(when)))
    assert [e.outcome for e in poll_once(settings).recorded] == ["accepted"]


# What arrives when, each after that day's reminders went out (10:00; reminders are at 09:00).
ARRIVALS = {
    date(2026, 9, 28): lambda s: send(s, "2026-09-28T10:00", ("wangjun@tengfei.example", "王珺"), "个人述职报告",
                                      [("王珺述职报告.docx", forms.fill_personal_report(HC, "王珺", "副职"))]),
    date(2026, 9, 29): lambda s: send(s, "2026-09-29T10:00", (GAO, "高建华"), "申请召开述职大会",
                                      text="人力资源科：我科申请于2026年10月20日召开述职大会。"),
    date(2026, 9, 30): lambda s: send(s, "2026-09-30T10:00", (LI, "李建国"), "班子述职报告",
                                      [("班子述职报告.docx", forms.fill_team_report(HC, "李建国"))]),
    date(2026, 10, 8): lambda s: send(s, "2026-10-08T10:00", ("liuyang@tengfei.example", "刘洋"), "述职报告",
                                      [("刘洋.docx", forms.fill_personal_report(HC, "刘洋", "科级干部"))]),
    date(2026, 10, 10): lambda s: send(s, "2026-10-10T10:00", (LIANG, "梁红"), "民主评议意见",
                                       [("评议.docx", forms.fill_union_review(SB, "梁红", {"高建华": "", "罗斌": ""}))]),
}

T, P, R, U, M, B = "team_report", "personal_report", "leader_review", "union_review", "meeting_request", "ballot_tally"
LI_LATE = {(HC, P, "李建国"), (HC, P, "张海燕")}
# Day by day, who is reminded of what. 合成车间's meeting date is fixed in units.csv, so it is
# never asked for a meeting request; 设备动力科's due dates appear once it asks for Oct 20.
EXPECTED = {
    date(2026, 9, 22): {},
    date(2026, 9, 23): {GAO: {(SB, M, None)}},  # 2 working days before its due day, Fri 9-25
    # Reports are due Tue 9-29; 2 working days before is Thu 9-24, as the Mid-Autumn
    # Festival (Fri 9-25) and the weekend are off. 高建华 is inside his window, already reminded.
    date(2026, 9, 24): {LI: {(HC, T, None), (HC, P, "李建国"), (HC, P, "张海燕"), (HC, P, "王珺"), (HC, P, "刘洋")}},
    # The meeting request's due day is a holiday: no due-day reminder, overdue from the next working day.
    date(2026, 9, 25): {}, date(2026, 9, 26): {}, date(2026, 9, 27): {},
    date(2026, 9, 28): {GAO: {(SB, M, None)}},  # overdue 1; 李建国 already had his early reminder
    date(2026, 9, 29): {LI: {(HC, T, None), (HC, P, "李建国"), (HC, P, "张海燕"), (HC, P, "刘洋")},
                        GAO: {(SB, M, None)}},
    date(2026, 9, 30): {LI: {(HC, T, None), (HC, P, "李建国"), (HC, P, "张海燕"), (HC, P, "刘洋")}},
    **{date(2026, 10, d): {} for d in range(1, 8)},  # National Day
    date(2026, 10, 8): {LI: LI_LATE | {(HC, P, "刘洋")}},
    date(2026, 10, 9): {LI: LI_LATE, CHEN: {(HC, U, None)}, LIANG: {(SB, U, None)}},
    date(2026, 10, 10): {  # make-up Saturday: reviews due Tue 10-13, 2 working days before is today
        LI: LI_LATE | {(HC, R, "张海燕"), (HC, R, "王珺"), (HC, B, None)},
        ZHANG: {(HC, R, "李建国")},  # the secretary reviews the head
    },
    date(2026, 10, 11): {},
    date(2026, 10, 12): {LI: LI_LATE, CHEN: {(HC, U, None)}},  # 梁红's arrived on Saturday
    date(2026, 10, 13): {
        LI: LI_LATE | {(HC, R, "张海燕"), (HC, R, "王珺"), (HC, B, None)},
        ZHANG: {(HC, R, "李建国")},
        CHEN: {(HC, U, None)},
        GAO: {(SB, T, None), (SB, P, "高建华"), (SB, P, "罗斌")},  # meeting 10-20: reports due 10-15
    },
    date(2026, 10, 14): {
        LI: LI_LATE | {(HC, R, "张海燕"), (HC, R, "王珺"), (HC, B, None)},
        ZHANG: {(HC, R, "李建国")},
        CHEN: {(HC, U, None)},
    },
}
# Copied to the plant leader: 合成车间 digests holding an item overdue by 2+ working days.
EXPECTED_CC = {(date(2026, 10, d), LI) for d in (8, 9, 10, 12, 13, 14)} | {(date(2026, 10, 14), CHEN)}


def messages(rows) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(r.eml, policy=policy.default) for r in rows]


def run_season(settings, days):
    """Remind on each day, then let that day's documents arrive; return the new outbox rows by day."""
    new_rows = {}
    for day in days:
        with Store.open(settings.paths.data) as store:
            before = {r.id for r in store.outbox()}
        remind(settings, day)
        with Store.open(settings.paths.data) as store:
            new_rows[day] = [r for r in store.outbox() if r.id not in before and r.kind == "reminder"]
        if day in ARRIVALS:
            ARRIVALS[day](settings)
    return new_rows


def test_reminders_follow_the_working_days_through_national_day(oct_settings):
    days = sorted(EXPECTED)
    new_rows = run_season(oct_settings, days)

    with Store.open(oct_settings.paths.data) as store:
        sent = store.reminders_sent()
    got: dict[date, dict[str, set]] = {day: {} for day in days}
    for day, recipient, covers in sent:
        assert recipient not in got[day], f"two reminders to {recipient} on {day}"
        got[day][recipient] = {tuple(c) for c in covers}
    assert got == EXPECTED

    for day in days:
        mails = messages(new_rows[day])
        assert sorted(m["To"] for m in mails) == sorted(EXPECTED[day])
        for m in mails:
            assert m["Auto-Submitted"] == "auto-generated"
            assert m["From"].addresses[0].addr_spec == HR
            copied = (day, m["To"]) in EXPECTED_CC
            assert (m["Cc"] == LEADER) == copied, (day, m["To"], m["Cc"])


def test_reminder_text_names_due_date_lateness_and_attaches_the_right_forms(oct_settings):
    new_rows = run_season(oct_settings, [date(2026, 9, 23), date(2026, 9, 24), date(2026, 10, 8), date(2026, 10, 10)])

    [to_gao] = messages(new_rows[date(2026, 9, 23)])
    assert list(to_gao.iter_attachments()) == []  # a meeting request has no form
    assert "述职大会时间申请" in to_gao.get_body(("plain",)).get_content()

    [head] = messages(new_rows[date(2026, 9, 24)])
    assert [a.get_filename() for a in head.iter_attachments()] == [
        "附件1 班子述职报告.docx", "附件2 科级干部个人述职报告.docx"]
    body = head.get_body(("plain",)).get_content()
    assert "李建国同志" in body and "2026年9月29日（周二）" in body
    assert "个人述职报告（您本人）" in body and "个人述职报告（张海燕）" in body
    assert HR in body

    late = next(m for m in messages(new_rows[date(2026, 10, 8)]) if m["To"] == LI)
    body = late.get_body(("plain",)).get_content()
    assert late["Subject"].startswith("【逾期提醒】")
    assert "已逾期 2 个工作日" in body and "抄送分管厂领导" in body

    secretary = next(m for m in messages(new_rows[date(2026, 10, 10)]) if m["To"] == ZHANG)
    assert [a.get_filename() for a in secretary.iter_attachments()] == ["附件3 民主评议考核表.docx"]
    assert "评议对象：李建国" in secretary.get_body(("plain",)).get_content()


def test_second_run_on_the_same_day_sends_nothing_more(oct_settings):
    day = date(2026, 9, 29)
    first = remind(oct_settings, day)
    assert len([line for line in first if line.startswith("已写入提醒")]) == 2
    second = remind(oct_settings, day)
    assert not any(line.startswith("已写入提醒") for line in second)
    assert "今天不再重复" in second[-1]
    with Store.open(oct_settings.paths.data) as store:
        assert len(store.outbox()) == 2 and len(store.reminders_sent()) == 2
    assert len(list(oct_settings.paths.outbox.glob("*.eml"))) == 2


def test_dry_run_prints_the_mail_and_records_nothing(oct_settings):
    lines = remind(oct_settings, date(2026, 9, 24), dry_run=True)
    text = "\n".join(lines)
    assert "将发送提醒 → 李建国 <lijianguo@tengfei.example>" in text
    assert "附件1 班子述职报告.docx" in text and "李建国同志" in text
    with Store.open(oct_settings.paths.data) as store:
        assert store.outbox() == [] and store.reminders_sent() == []
    assert not oct_settings.paths.outbox.exists() or not list(oct_settings.paths.outbox.iterdir())
    # The real run afterwards sends the same: the dry run took nothing away. (高建华 too: with no
    # reminder on record, his early reminder, due yesterday, is caught up.)
    assert sum(line.startswith("已写入提醒") for line in remind(oct_settings, date(2026, 9, 24))) == 2


@pytest.mark.parametrize("mail", ["", '\n[mail]\nscript = "traditional"\n'], ids=["simplified", "traditional"])
def test_dry_run_shows_exactly_the_mail_the_real_run_writes(config_dir, mail):
    # The dry run renders the digests without building the mails; what it shows must still be what goes out.
    settings = season(config_dir, mail=mail)
    day = date(2026, 9, 24)
    shown = remind(settings, day, dry_run=True)
    remind(settings, day)
    with Store.open(settings.paths.data) as store:
        mails = messages(store.outbox())
    expected = []
    for m in mails:  # in the order the dry run showed them: both follow the digests' order
        expected.append(next(line for line in shown if line.startswith("将发送提醒") and f"<{m['To']}>" in line))
        expected.append(f"  主题：{m['Subject']}")
        names = [a.get_filename() for a in m.iter_attachments()]
        if names:
            expected.append(f"  附件：{'、'.join(names)}")
        body = m.get_body(("plain",)).get_content().rstrip().splitlines()
        expected += ["  | " + line if line else "  |" for line in body] + [""]
    assert len(mails) == 2 and shown[:-1] == expected


def test_nothing_on_a_day_off(oct_settings):
    assert remind(oct_settings, date(2026, 9, 25)) == ["2026-09-25 不是工作日，不发送提醒。"]  # Mid-Autumn
    assert remind(oct_settings, date(2026, 10, 3)) == ["2026-10-03 不是工作日，不发送提醒。"]
    with Store.open(oct_settings.paths.data) as store:
        assert store.outbox() == []


def test_cadres_get_their_own_copy_only_when_asked(config_dir):
    settings = season(config_dir, reminders="remind_cadres = true")
    remind(settings, date(2026, 9, 24))
    with Store.open(settings.paths.data) as store:
        got = {recipient: {tuple(c) for c in covers} for _, recipient, covers in store.reminders_sent()}
    assert got[ZHANG] == {(HC, P, "张海燕")}
    assert got["wangjun@tengfei.example"] == {(HC, P, "王珺")}
    assert got["liuyang@tengfei.example"] == {(HC, P, "刘洋")}
    assert (HC, P, "李建国") in got[LI] and len(got[LI]) == 5  # the head's digest is unchanged


def test_overdue_every_second_working_day_skips_across_the_holiday(config_dir):
    settings = season(config_dir, reminders="overdue_every_workdays = 2\nescalate_after_workdays = 0")
    days = [date(2026, 9, 30)] + [date(2026, 10, d) for d in range(8, 15)]
    reminded = []
    for day in days:
        remind(settings, day)
    with Store.open(settings.paths.data) as store:
        reminded = [day for day, recipient, covers in store.reminders_sent()
                    if recipient == LI and [HC, P, "李建国"] in covers]
    # Due 9-29: overdue 1 on 9-30, then every second working day: 10-09 (after 10-08), 10-12 (10-10 Sat counts).
    assert reminded == [date(2026, 9, 30), date(2026, 10, 9), date(2026, 10, 12), date(2026, 10, 14)]
    with Store.open(settings.paths.data) as store:
        assert all(not m["Cc"] for m in messages(store.outbox()))  # escalation off


def test_traditional_script_is_used_when_configured(config_dir):
    settings = season(config_dir, mail='\n[mail]\nscript = "traditional"\n')
    remind(settings, date(2026, 9, 23))
    with Store.open(settings.paths.data) as store:
        [mail] = messages(store.outbox())
    body = mail.get_body(("plain",)).get_content()
    assert "請將上述材料" in body and "请将" not in body


def test_kickoff_goes_once_per_season_with_all_four_forms(oct_settings):
    lines = kickoff(oct_settings)
    assert len([line for line in lines if line.startswith("已写入启动通知")]) == 2
    with Store.open(oct_settings.paths.data) as store:
        mails = messages(store.outbox())
    assert sorted(m["To"] for m in mails) == [GAO, LI]
    head = next(m for m in mails if m["To"] == LI)
    assert [a.get_filename() for a in head.iter_attachments()] == [
        "附件1 班子述职报告.docx", "附件2 科级干部个人述职报告.docx", "附件3 民主评议考核表.docx",
        "附件4 科级后备干部推荐表.docx"]
    body = head.get_body(("plain",)).get_content()
    assert "2026年10月9日（周五）" in body  # the meeting
    assert "2026年9月29日（周二）" in body  # reports, before National Day
    assert "2026年10月13日（周二）" in body  # reviews, counting Saturday 10-10
    assert head["Auto-Submitted"] == "auto-generated"

    again = kickoff(oct_settings)
    assert not any(line.startswith("已写入") for line in again) and "--force" in again[-1]
    assert len(kickoff(oct_settings, dry_run=True, force=True)) > 2
    with Store.open(oct_settings.paths.data) as store:
        assert len(store.outbox()) == 2
    kickoff(oct_settings, force=True)
    with Store.open(oct_settings.paths.data) as store:
        assert len(store.outbox()) == 4


def test_a_document_arriving_withdraws_the_reminder_still_queued(config_dir):
    from bot.out.reminders import withdraw_answered

    settings = season(config_dir)
    remind(settings, date(2026, 9, 23))  # 高建华: the meeting request; queued, not yet sent (SMTP down, say)
    send(settings, "2026-09-23T10:00", (GAO, "高建华"), "申请召开述职大会", text="我科申请于2026年10月20日召开述职大会。")
    with Store.open(settings.paths.data) as store:
        assert withdraw_answered(settings, store, date(2026, 9, 23)) == 1
        [row] = store.outbox("cancelled")
        assert row.kind == "reminder" and row.recipients == (GAO,)
        assert [r.kind for r in store.outbox("queued")] == ["confirmation"]



def test_an_exemption_withdraws_the_reminder_still_queued_and_send_says_so(config_dir, capsys):
    """HR exempts the one item a queued reminder asks for: `hrbot send` withdraws it rather than send it."""
    from bot.cli import main
    from bot.out.reminders import WITHDRAWN_REASON, withdraw_answered

    settings = season(config_dir)
    remind(settings, date(2026, 9, 23))  # 高建华: the meeting request, queued
    with Store.open(settings.paths.data) as store:
        assert withdraw_answered(settings, store, date(2026, 9, 23)) == 0  # still owed: it stays
        [queued] = [r for r in store.outbox("queued") if r.kind == "reminder"]
    assert main(["--config", str(config_dir), "adjust", "exempt", "--unit", SB, "--item", "meeting_request",
                 "--note", "已电话确认"]) == 0
    capsys.readouterr()
    main(["--config", str(config_dir), "send"])
    assert "撤回 1 封提醒" in capsys.readouterr().out
    with Store.open(settings.paths.data) as store:
        [row] = store.outbox("cancelled")
        assert row.id == queued.id and row.last_error == WITHDRAWN_REASON
        assert not [r for r in store.outbox("sent") if r.kind == "reminder"]
        assert store.reminders_sent() == []  # withdrawn: never sent, so later windows do not count it

    (config_dir / "adjustments.csv").unlink()  # the exemption was a mistake: the reminder is due again today
    assert any(line.startswith("已写入提醒") for line in remind(settings, date(2026, 9, 23)))


def test_a_check_that_fails_does_not_hold_back_the_mail_that_waits(config_dir, monkeypatch):
    """Whatever stops the withdrawal check is logged; sending goes on."""
    from bot.cli import main

    settings = season(config_dir)
    remind(settings, date(2026, 9, 23))

    def broken(*args):
        raise OSError("a file HR left open")

    monkeypatch.setattr("bot.out.reminders.season_status", broken)
    assert main(["--config", str(config_dir), "send"]) == 0
    with Store.open(settings.paths.data) as store:
        assert [r.kind for r in store.outbox("queued")] == []
