"""When each document of an order is due, on the simulator's clock.

``realistic`` spreads the steps over minutes, as Amazon's confirmation comes "five minutes to a couple
of hours" after the order (protocol.md §4) — shortened so a test run can watch them; ``instant``
makes every step due at once, in order; ``manual`` sends nothing until an admin call asks.
An account's Amazon Day holds shipments until the next chosen weekday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..settings import WEEKDAYS

FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)

# seconds after the order, in realistic mode
REALISTIC = {
    "status_update": 5,
    "confirmation": 120,
    "shipment": 600,
    "next_shipment": 300,
    "backorder_shipment": 3600,
    "invoice_after_shipment": 300,
}


class Timeline:
    def __init__(self, mode: str, start: datetime, amazon_day: str | None = None) -> None:
        self.mode = mode
        self.start = start
        self.amazon_day = amazon_day
        self._tick = 0

    def _at(self, seconds: float) -> datetime:
        self._tick += 1
        if self.mode == "manual":
            return FAR_FUTURE
        if self.mode == "instant":
            return self.start + timedelta(milliseconds=self._tick)  # same moment, in order
        return self.start + timedelta(seconds=seconds, milliseconds=self._tick)

    def status_update(self) -> datetime:
        return self._at(REALISTIC["status_update"])

    def confirmation(self) -> datetime:
        return self._at(REALISTIC["confirmation"])

    def shipment(self, index: int, *, backorder: bool = False) -> datetime:
        seconds = REALISTIC["backorder_shipment"] if backorder else REALISTIC["shipment"]
        moment = self._at(seconds + index * REALISTIC["next_shipment"])
        return self._hold_for_amazon_day(moment)

    def invoice(self, last_shipment: datetime) -> datetime:
        if self.mode == "manual":
            return FAR_FUTURE
        self._tick += 1
        if self.mode == "instant":
            return max(self.start, last_shipment) + timedelta(milliseconds=self._tick)
        return last_shipment + timedelta(seconds=REALISTIC["invoice_after_shipment"], milliseconds=self._tick)

    def _hold_for_amazon_day(self, moment: datetime) -> datetime:
        if not self.amazon_day or self.mode == "manual":
            return moment
        wanted = WEEKDAYS.index(self.amazon_day)
        days = (wanted - moment.weekday()) % 7
        held = (moment + timedelta(days=days)).replace(hour=8, minute=0, second=0, microsecond=0)
        if held < moment:
            held += timedelta(days=7)
        return held + timedelta(milliseconds=self._tick)
