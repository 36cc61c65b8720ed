"""Copies of the store: `hrbot backup`, and the daily copies `hrbot run` keeps (the last seven)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)

BACKUP_DIR = "backups"  # under [paths] data, beside the store
DAILY_PREFIX = "hrbot-daily-"
KEEP_DAILY = 7


def backup(settings: Settings, target: Path | None = None, now: datetime | None = None) -> Path:
    """Check the store, then write a consistent copy to `target` (default: data/backups/, dated); its path."""
    now = (now or datetime.now(settings.season.timezone)).astimezone(settings.season.timezone)
    if target is None:
        target = settings.paths.data / BACKUP_DIR / f"hrbot-{now:%Y%m%d-%H%M%S}.sqlite3"
    with Store.open(settings.paths.data) as store:
        store.backup_to(target)
    return target


def daily_backup(settings: Settings, now: datetime) -> Path | None:
    """Once a season-zone day (the service's job): check the store, copy it, keep the last seven copies.

    Returns the new copy's path, or None when today's exists already. A damaged store raises
    StoreDamaged and no older copy is removed.
    """
    day = now.astimezone(settings.season.timezone).date()
    folder = settings.paths.data / BACKUP_DIR
    target = folder / f"{DAILY_PREFIX}{day.isoformat()}.sqlite3"
    if target.exists():
        return None
    backup(settings, target, now)
    for old in sorted(folder.glob(f"{DAILY_PREFIX}*.sqlite3"))[:-KEEP_DAILY]:
        old.unlink(missing_ok=True)
        log.info("backup: removed %s (keeping the last %d daily copies)", old.name, KEEP_DAILY)
    return target
