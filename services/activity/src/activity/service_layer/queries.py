"""Reads of the activity service: a terminal's records by serial or PIN, one record, the partner's
terminals and one terminal's latest state (R-40..R-42)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from activity.domain.model import ActivityRecord, RecordKind, Terminal, Window, parse_record_id
from activity.service_layer.field_operations import FieldQueries
from activity.service_layer.ports import ActivityStore, RecordQuery, TerminalStore
from activity.service_layer.remote_actions import REMOTE_ACTION_QUERY_HANDLERS
from contracts.serials import canonical_serial
from servicekit.errors import InvalidInput, NotFound, field_error
from servicekit.handlers import HandlerTable
from servicekit.pagination import Page


@dataclass(frozen=True)
class RecordSearch:
    """What the partner asked for: one terminal, by serial or by PIN, within a window (`start`
    and `end` as given: either or both may be missing)."""

    partner_id: str
    serial: str | None = None
    pin: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    action: str | None = None
    kind: RecordKind | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class RecordsFound:
    """A page of records, newest first, and the window they were searched in."""

    items: list[ActivityRecord]
    next_cursor: str | None
    window: Window


async def visible_record(records: ActivityStore, record_id: str, partner_id: str) -> ActivityRecord | None:
    """The record if the partner may see it: another partner's record is absent, like a missing
    one, and a malformed id is never looked up."""
    if parse_record_id(record_id) is None:
        return None
    record = await records.get(record_id)
    return record if record is not None and record.visible_to(partner_id) else None


@dataclass
class ActivityQueries:
    records: ActivityStore
    terminals: TerminalStore

    async def search(self, asked: RecordSearch, now: datetime) -> RecordsFound:
        """Records of one terminal (R-40, R-41); the window defaults to the 24 hours before `now`."""
        if (asked.serial is None) == (asked.pin is None):
            raise InvalidInput(
                [field_error("serial", "serial_or_pin", "exactly one of serial or pin", where="query")],
                detail="Give exactly one of serial or pin.",
            )
        window = Window.of(asked.start, asked.end, now)
        query = RecordQuery(
            partner_id=asked.partner_id,
            window=window,
            serial=canonical_serial(asked.serial) if asked.serial is not None else None,
            pin=asked.pin,
            action=asked.action,
            kind=asked.kind,
            limit=asked.limit,
            cursor=asked.cursor,
        )
        page = await self.records.search(query)
        return RecordsFound(page.items, page.next_cursor, window)

    async def record(self, record_id: str, partner_id: str) -> ActivityRecord:
        found = await visible_record(self.records, record_id, partner_id)
        if found is None:
            raise NotFound("activity record", record_id)
        return found

    async def terminal(self, partner_id: str, serial: str) -> Terminal:
        """A terminal's latest state (R-42), by its serial in any letter case."""
        canonical = canonical_serial(serial)
        found = await self.terminals.get(partner_id, canonical)
        if found is None:
            raise NotFound("terminal", canonical)
        return found

    async def latest(
        self, partner_id: str, limit: int, cursor: str | None, serials: list[str] | None = None
    ) -> Page[Terminal]:
        """The partner's terminals, last seen first; with `serials`, only those (in any letter case;
        one page: at most `limit` of them, in the order asked, an unknown one left out)."""
        if serials:
            wanted = list(dict.fromkeys(canonical_serial(s) for s in serials))[:limit]
            return Page(await self.terminals.get_many(partner_id, wanted), None)
        return await self.terminals.latest(partner_id, limit, cursor)


QUERY_HANDLERS: HandlerTable = {
    "search_records": ActivityQueries.search,
    "get_record": ActivityQueries.record,
    "get_terminal": ActivityQueries.terminal,
    "list_terminals": ActivityQueries.latest,
    # field operations (issue #20)
    "working_time_month": FieldQueries.month,
    "working_time_day": FieldQueries.day,
    "terminal_positions": FieldQueries.positions,
    # The remote-action trail (`RemoteActionQueries`):
    **REMOTE_ACTION_QUERY_HANDLERS,
}
