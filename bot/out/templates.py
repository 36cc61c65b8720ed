"""Renders the mail texts from jinja2 templates HR may edit (config/templates/, else the shipped ones)."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from bot.settings import EXAMPLE_CONFIG, Settings

_WEEKDAYS = "一二三四五六日"


def cn_date(day: date | None, weekday: bool = True) -> str:
    """2026-12-07 as 2026年12月7日（周一）, the way Chinese office mail writes dates."""
    if day is None:
        return "待定"
    text = f"{day.year}年{day.month}月{day.day}日"
    return f"{text}（周{_WEEKDAYS[day.weekday()]}）" if weekday else text


def render(settings: Settings, name: str, **context) -> tuple[str, str]:
    """(subject, body) of template `name`: its first line is the subject, the rest after a blank line the body."""
    text = _environment(settings.config_dir).get_template(name).render(hr=settings.hr, **context)
    subject, _, body = text.lstrip("\n").partition("\n")
    return subject.strip(), body.lstrip("\n")


@functools.lru_cache(maxsize=8)
def _environment(config_dir: Path):
    """One environment per config folder: jinja2 caches compiled templates in it (and reloads an
    edited file, as its loader checks the modification time)."""
    import jinja2  # a heavy package the idle poll never needs (tests/test_idle_imports.py)

    loader = jinja2.FileSystemLoader([config_dir / "templates", EXAMPLE_CONFIG / "templates"])
    env = jinja2.Environment(loader=loader, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, autoescape=jinja2.select_autoescape(["html"]))
    env.filters["cn_date"] = cn_date
    return env
