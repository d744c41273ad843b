"""Shared limits (LimitService) in Python terms: Rate, Limit and LimitStatus, and their
batchd.v1 messages. Pure values and functions; not thread-safe (plain values).

A limit is named by a key ("openai", "tenant:42"); tasks of every batch and client that name
the key share it (``BatchTask(..., limits=[("openai", 1200)])``). The daemon checks the
numbers (units, bursts, periods within its bounds, a limit with neither max_in_flight nor a
rate) and refuses with its own message; these types check shapes and spellings.
"""

import datetime
import math
import re
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Union

from batchd._proto import limit_service_pb2
from batchd.options import RATE_MEASURES, canonical_name

# What Rate.per accepts: seconds, a timedelta, or "minute", "1m", "250ms", ...
Period = Union[float, int, datetime.timedelta, str]

_PERIOD_WORDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_PERIOD_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERIOD_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$")
_MEASURE_NAMES = {number: name for name, number in RATE_MEASURES.items()}


def parse_period(per: Period) -> datetime.timedelta:
    """`per` as a timedelta: a number of seconds, a timedelta, "second", "minute", "hour",
    "day", or a number and a unit ("250ms", "1s", "1.5m", "1h", "1d"). TypeError or
    ValueError when it is none of these; whether the period is in range is the daemon's to
    say (positive, at most 366 days)."""
    if isinstance(per, datetime.timedelta):
        return per
    if isinstance(per, bool):
        raise TypeError(f"a rate's period must be seconds, a timedelta or a string such as "
                        f"'minute' or '250ms' (got {per!r})")
    if isinstance(per, (int, float)):
        if not math.isfinite(per):
            raise ValueError(f"a rate's period must be finite (got {per!r})")
        return datetime.timedelta(seconds=per)
    if isinstance(per, str):
        text = per.strip().lower()
        if text in _PERIOD_WORDS:
            return datetime.timedelta(seconds=_PERIOD_WORDS[text])
        match = _PERIOD_PATTERN.match(text)
        if match:
            return datetime.timedelta(seconds=float(match.group(1)) * _PERIOD_UNITS[match.group(2)])
        raise ValueError(f"Unknown period {per!r} (valid: {', '.join(_PERIOD_WORDS)}, or a "
                         f"number with ms, s, m, h or d, e.g. '250ms', '1m')")
    raise TypeError(f"a rate's period must be seconds, a timedelta or a string such as "
                    f"'minute' or '250ms' (got {type(per).__name__})")


@dataclass
class Rate:
    """A token bucket: `units` refilled per `per`, holding at most `burst` (None: `units`).

    `per` is seconds, a timedelta or a string ("minute", "1s", "250ms", "1h"), kept as a
    timedelta. `measure` "units" counts each task's units (tokens, bytes, ...); "requests"
    counts one per task. ``[Rate(500, "minute", measure="requests"), Rate(90_000, "minute")]``
    is OpenAI's "500 requests and 90,000 tokens per minute".
    """

    units: int
    per: Period
    burst: Optional[int] = None
    measure: str = "units"

    def __post_init__(self) -> None:
        _check_int("a rate's units", self.units)
        if self.burst is not None:
            _check_int("a rate's burst", self.burst)
        self.per = parse_period(self.per)
        self.measure = canonical_name("rate measure", self.measure, RATE_MEASURES)


@dataclass
class Limit:
    """A limit as configured: at most `max_in_flight` tasks holding the key at once (None: no
    bound), and every rate of `rates` enforced together. `units_header` names a response
    header of the http executor that reports the units an attempt used (e.g.
    "x-usage-tokens"); "" for none."""

    key: str
    max_in_flight: Optional[int] = None
    rates: List[Rate] = field(default_factory=list)
    units_header: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.key, str):
            raise TypeError(f"a limit's key must be a str (got {type(self.key).__name__})")
        if self.max_in_flight is not None:
            _check_int(f"limit {self.key!r}: max_in_flight", self.max_in_flight)
        self.rates = _rates(self.key, self.rates)
        if not isinstance(self.units_header, str):
            raise TypeError(f"limit {self.key!r}: units_header must be a str "
                            f"(got {type(self.units_header).__name__})")


@dataclass
class LimitStatus:
    """A configured limit and its live state.

    Attributes:
        limit: The Limit as the daemon holds it.
        in_flight: Tasks holding the key now.
        waiting: Tasks waiting in the key's queue.
        paused_until: While a throttled outcome's retry-after pauses the key for everyone,
            when the pause ends (UTC); else None.
        throttled: Throttled attempts reported so far (HTTP 429/503, a worker's Throttled).
        available: Per rate, in rate order: units available now.
        effective_units: Per rate: the rate in force (units per period), which adaptive
            back-off lowers after throttling and raises again on success.
    """

    limit: Limit
    in_flight: int = 0
    waiting: int = 0
    paused_until: Optional[datetime.datetime] = None
    throttled: int = 0
    available: List[float] = field(default_factory=list)
    effective_units: List[float] = field(default_factory=list)


def limit_message(limit: Limit) -> limit_service_pb2.Limit:
    message = limit_service_pb2.Limit(key=limit.key, units_header=limit.units_header)
    if limit.max_in_flight is not None:
        message.max_in_flight = limit.max_in_flight
    for rate in limit.rates:
        rate_message = message.rates.add(units=rate.units, measure=RATE_MEASURES[rate.measure])
        rate_message.period.FromTimedelta(parse_period(rate.per))
        if rate.burst is not None:
            rate_message.burst = rate.burst
    return message


def status_from_proto(message: limit_service_pb2.LimitStatus) -> LimitStatus:
    paused_until = None
    if message.HasField("paused_until"):
        paused_until = message.paused_until.ToDatetime(tzinfo=datetime.timezone.utc)
    return LimitStatus(
        limit=limit_from_proto(message.limit),
        in_flight=message.in_flight,
        waiting=message.waiting,
        paused_until=paused_until,
        throttled=message.throttled,
        available=list(message.available),
        effective_units=list(message.effective_units),
    )


def limit_from_proto(message: limit_service_pb2.Limit) -> Limit:
    rates = [
        Rate(units=r.units, per=r.period.ToTimedelta(),
             burst=r.burst if r.HasField("burst") else None,
             measure=_MEASURE_NAMES.get(r.measure, "units"))  # UNSPECIFIED means units
        for r in message.rates
    ]
    return Limit(
        key=message.key,
        max_in_flight=message.max_in_flight if message.HasField("max_in_flight") else None,
        rates=rates,
        units_header=message.units_header,
    )


def _check_int(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int (got {value!r})")


def _rates(key: str, rates: Optional[Sequence[Rate]]) -> List[Rate]:
    if rates is None:
        return []
    if isinstance(rates, Rate):
        raise TypeError(f"limit {key!r}: rates must be a list of Rate (got a single Rate; "
                        f"wrap it in a list)")
    out = list(rates)
    for index, rate in enumerate(out):
        if not isinstance(rate, Rate):
            raise TypeError(f"limit {key!r}: rates[{index}] is a {type(rate).__name__}, "
                            f"not a batchd.Rate")
    return out
