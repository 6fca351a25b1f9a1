"""A GAQL parser and query engine for the sandbox.

It understands the subset of the Google Ads Query Language our queries (and reasonable user
queries) use: ``SELECT f, … FROM resource [WHERE cond AND …] [ORDER BY f [ASC|DESC], …]
[LIMIT n]``, with the operators =, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE, IS NULL,
IS NOT NULL, BETWEEN … AND …, DURING <range>. Anything else is answered with the QueryError
Google would send, never with a crash.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.ads.googleads.v26.services.types import google_ads_service

from spectra.ads import fields as ads_fields
from spectra.sandbox.errors import query_error

ROW_DESCRIPTOR = google_ads_service.GoogleAdsRow.pb().DESCRIPTOR

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)

DURING_RANGES = {
    "TODAY",
    "YESTERDAY",
    "LAST_7_DAYS",
    "LAST_14_DAYS",
    "LAST_30_DAYS",
    "LAST_BUSINESS_WEEK",
    "THIS_MONTH",
    "LAST_MONTH",
    "THIS_WEEK_SUN_TODAY",
    "THIS_WEEK_MON_TODAY",
    "LAST_WEEK_SUN_SAT",
    "LAST_WEEK_MON_SUN",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # =, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE, IS NULL, IS NOT NULL, BETWEEN, DURING
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    limit: int | None = None
    text: str = field(default="", compare=False)

    @property
    def date_segmented(self) -> bool:
        return "segments.date" in self.fields

    def date_range(self, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
        """The finite segments.date range the WHERE clause pins, if any (inclusive)."""
        lo: dt.date | None = None
        hi: dt.date | None = None
        for cond in self.conditions:
            if cond.field != "segments.date":
                continue
            if cond.op == "DURING":
                a, b = during_range(cond.values[0], as_of)
            elif cond.op == "BETWEEN":
                a, b = cond.values
            elif cond.op == "=":
                a = b = cond.values[0]
            elif cond.op in (">", ">="):
                a, b = cond.values[0] + dt.timedelta(days=cond.op == ">"), None
            elif cond.op in ("<", "<="):
                a, b = None, cond.values[0] - dt.timedelta(days=cond.op == "<")
            elif cond.op == "IN":
                a, b = min(cond.values), max(cond.values)
            else:
                continue
            lo = a if lo is None or (a is not None and a > lo) else lo
            hi = b if hi is None or (b is not None and b < hi) else hi
        if lo is None or hi is None:
            return None
        return lo, hi


def during_range(name: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """Resolve a DURING constant against the sandbox clock (``as_of`` is 'today')."""
    today = as_of
    yesterday = today - dt.timedelta(days=1)
    if name == "TODAY":
        return today, today
    if name == "YESTERDAY":
        return yesterday, yesterday
    if name.startswith("LAST_") and name.endswith("_DAYS"):
        n = int(name.split("_")[1])
        return today - dt.timedelta(days=n), yesterday
    if name == "THIS_MONTH":
        return today.replace(day=1), today
    if name == "LAST_MONTH":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return end.replace(day=1), end
    monday = today - dt.timedelta(days=today.weekday())
    if name == "THIS_WEEK_MON_TODAY":
        return monday, today
    if name == "THIS_WEEK_SUN_TODAY":
        sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
        return sunday, today
    if name in ("LAST_WEEK_MON_SUN", "LAST_BUSINESS_WEEK"):
        start = monday - dt.timedelta(days=7)
        return start, start + dt.timedelta(days=6 if name == "LAST_WEEK_MON_SUN" else 4)
    if name == "LAST_WEEK_SUN_SAT":
        sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
        return sunday - dt.timedelta(days=7), sunday - dt.timedelta(days=1)
    raise query_error("INVALID_VALUE_WITH_DURING_OPERATOR", f"unknown date range {name}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        value = match.group(kind)
        if kind == "bad":
            if value in ("'", '"'):
                raise query_error(
                    "STRING_NOT_TERMINATED", f"unterminated string at {match.start()}"
                )
            raise query_error("BAD_SYMBOL", f"unexpected symbol {value!r} at {match.start(kind)}")
        tokens.append(Token(kind, value, match.start(kind)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise query_error("UNEXPECTED_END_OF_QUERY", "query ended unexpectedly")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> bool:
        for k, word in enumerate(words):
            tok = self.peek(k)
            if tok is None or tok.kind != "word" or tok.text.upper() != word:
                return False
        self.i += len(words)
        return True

    def expect_keyword(self, word: str, code: str) -> None:
        if not self.keyword(word):
            tok = self.peek()
            where = f"at {tok.pos}" if tok else "at end"
            raise query_error(code, f"expected {word} {where}")

    def field_name(self) -> str:
        tok = self.next()
        if tok.kind != "word":
            raise query_error(
                "BAD_FIELD_NAME", f"expected a field name at {tok.pos}, got {tok.text!r}"
            )
        return tok.text

    def value(self) -> Any:
        tok = self.next()
        if tok.kind == "string":
            return bytes(tok.text[1:-1], "utf-8").decode("unicode_escape")
        if tok.kind == "number":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "word":
            upper = tok.text.upper()
            if upper in ("TRUE", "FALSE"):
                return upper == "TRUE"
            return tok.text  # enum constant written without quotes
        raise query_error("BAD_VALUE", f"expected a value at {tok.pos}, got {tok.text!r}")

    def parse(self) -> Query:
        self.expect_keyword("SELECT", "EXPECTED_SELECT")
        fields = [self.field_name()]
        while (tok := self.peek()) is not None and tok.text == ",":
            self.next()
            fields.append(self.field_name())
        self.expect_keyword("FROM", "EXPECTED_FROM")
        resource_tok = self.next()
        if resource_tok.kind != "word" or "." in resource_tok.text:
            raise query_error(
                "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"bad resource {resource_tok.text!r}"
            )
        conditions: list[Condition] = []
        if self.keyword("WHERE"):
            conditions.append(self.condition())
            while self.keyword("AND"):
                conditions.append(self.condition())
        order_by: list[tuple[str, bool]] = []
        if self.keyword("ORDER"):
            self.expect_keyword("BY", "EXPECTED_BY")
            while True:
                name = self.field_name()
                desc = False
                if self.keyword("DESC"):
                    desc = True
                else:
                    self.keyword("ASC")
                order_by.append((name, desc))
                if (tok := self.peek()) is not None and tok.text == ",":
                    self.next()
                    continue
                break
        limit: int | None = None
        if self.keyword("LIMIT"):
            tok = self.next()
            if tok.kind != "number" or "." in tok.text:
                raise query_error("BAD_LIMIT_VALUE", f"LIMIT needs an integer, got {tok.text!r}")
            limit = int(tok.text)
            if limit <= 0:
                raise query_error("LIMIT_VALUE_TOO_LOW", "LIMIT must be positive")
        if self.keyword("PARAMETERS"):
            while self.peek() is not None:
                self.next()
        if (tok := self.peek()) is not None:
            raise query_error("UNEXPECTED_INPUT", f"unexpected input {tok.text!r} at {tok.pos}")
        return Query(
            tuple(fields), resource_tok.text, tuple(conditions), tuple(order_by), limit, self.text
        )

    def condition(self) -> Condition:
        name = self.field_name()
        tok = self.peek()
        if tok is None:
            raise query_error("UNEXPECTED_END_OF_QUERY", f"condition on {name} has no operator")
        if tok.kind == "op":
            self.next()
            return Condition(name, tok.text, (self.value(),))
        if self.keyword("NOT", "IN"):
            return Condition(name, "NOT IN", self.value_list())
        if self.keyword("IN"):
            return Condition(name, "IN", self.value_list())
        if self.keyword("NOT", "LIKE"):
            return Condition(name, "NOT LIKE", (self.value(),))
        if self.keyword("LIKE"):
            return Condition(name, "LIKE", (self.value(),))
        if self.keyword("IS", "NOT", "NULL"):
            return Condition(name, "IS NOT NULL")
        if self.keyword("IS", "NULL"):
            return Condition(name, "IS NULL")
        if self.keyword("BETWEEN"):
            lo = self.value()
            self.expect_keyword("AND", "EXPECTED_AND")
            return Condition(name, "BETWEEN", (lo, self.value()))
        if self.keyword("DURING"):
            rng = self.next()
            if rng.text.upper() not in DURING_RANGES:
                raise query_error(
                    "INVALID_VALUE_WITH_DURING_OPERATOR", f"unknown date range {rng.text!r}"
                )
            return Condition(name, "DURING", (rng.text.upper(),))
        raise query_error("BAD_OPERATOR", f"unsupported operator {tok.text!r} at {tok.pos}")

    def value_list(self) -> tuple[Any, ...]:
        tok = self.next()
        if tok.text != "(":
            raise query_error("EXPECTED_LIST", f"expected ( at {tok.pos}")
        values = []
        while True:
            if (tok := self.peek()) is not None and tok.text == ")":
                self.next()
                break
            values.append(self.value())
            if (tok := self.peek()) is not None and tok.text == ",":
                self.next()
        if not values:
            raise query_error("PROHIBITED_EMPTY_LIST_IN_CONDITION", "empty list in condition")
        return tuple(values)


def resolve_field(path: str) -> tuple[str, Any]:
    """Resolve a dotted GAQL field against GoogleAdsRow: (protobuf attribute path, descriptor).

    The mapping is the gateway's (spectra.ads.fields), so what the sandbox serves is what
    ingest decodes. A field that does not exist is Google's UNRECOGNIZED_FIELD.
    """
    try:
        return ads_fields.resolve_field(path)
    except ads_fields.UnknownField:
        raise query_error(
            "UNRECOGNIZED_FIELD", f"unrecognized field {path!r}", trigger=path
        ) from None


def _field_descriptor(path: str) -> Any:
    return resolve_field(path)[1]


def _parse_date(value: Any, path: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise query_error(
            "INVALID_DATE_FORMAT", f"{path}: {value!r} is not a YYYY-MM-DD date"
        ) from None


def parse(text: str, *, known_resources: Iterable[str] | None = None) -> Query:
    """Parse and check a GAQL query against the real GoogleAdsRow schema."""
    query = _Parser(text).parse()
    if query.resource not in ROW_DESCRIPTOR.fields_by_name:
        raise query_error(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"unknown resource {query.resource!r}"
        )
    if known_resources is not None and query.resource not in set(known_resources):
        raise query_error(
            "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"resource {query.resource!r} is not served by this sandbox",
        )
    for path in query.fields:
        _field_descriptor(path)
    conditions = []
    for cond in query.conditions:
        _field_descriptor(cond.field)
        if cond.field == "segments.date" and cond.op not in ("DURING", "IS NULL", "IS NOT NULL"):
            cond = Condition(
                cond.field, cond.op, tuple(_parse_date(v, cond.field) for v in cond.values)
            )
        conditions.append(cond)
    for path, _ in query.order_by:
        _field_descriptor(path)
    query = Query(
        query.fields, query.resource, tuple(conditions), query.order_by, query.limit, text
    )
    if query.date_segmented and query.date_range(dt.date.today()) is None:
        raise query_error(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "segments.date in SELECT needs a finite date range in WHERE",
        )
    return query


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _predicate(cond: Condition, as_of: dt.date) -> Callable[[Mapping[str, Any]], bool]:
    name = cond.field
    is_date = name == "segments.date"

    def get(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        if is_date and value is not None:
            return dt.date.fromisoformat(value)
        return value

    op, values = cond.op, cond.values
    if op == "DURING":
        lo, hi = during_range(values[0], as_of)
        return lambda r: (v := get(r)) is not None and lo <= v <= hi
    if op == "BETWEEN":
        lo, hi = values
        return lambda r: (v := get(r)) is not None and lo <= v <= hi
    if op == "IS NULL":
        return lambda r: get(r) in (None, "", 0)
    if op == "IS NOT NULL":
        return lambda r: get(r) not in (None, "", 0)
    if op in ("IN", "NOT IN"):
        allowed = set(values)
        if op == "IN":
            return lambda r: get(r) in allowed
        return lambda r: get(r) not in allowed
    if op in ("LIKE", "NOT LIKE"):
        rx = _like(str(values[0]))
        if op == "LIKE":
            return lambda r: rx.match(str(get(r))) is not None
        return lambda r: rx.match(str(get(r))) is None
    target = values[0]
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    fn = compare[op]

    def check(row: Mapping[str, Any]) -> bool:
        value = get(row)
        if value is None:
            return False
        try:
            return fn(value, target)
        except TypeError:
            raise query_error(
                "OPERATOR_FIELD_MISMATCH", f"cannot compare {name} with {target!r}"
            ) from None

    return check


def execute(
    query: Query, rows: Iterable[Mapping[str, Any]], *, as_of: dt.date
) -> list[Mapping[str, Any]]:
    """Filter, order and limit rows (dicts keyed by field path) as Google would."""
    predicates = [_predicate(c, as_of) for c in query.conditions]
    selected = [r for r in rows if all(p(r) for p in predicates)] if predicates else list(rows)
    for name, desc in reversed(query.order_by):
        selected.sort(key=lambda r, n=name: (r.get(n) is None, r.get(n)), reverse=desc)
    if query.limit is not None:
        selected = selected[: query.limit]
    return selected


@dataclass
class RowBuilder:
    """Builds raw GoogleAdsRow protobufs for a query's SELECT list; compiled once per query."""

    fields: tuple[str, ...]
    _setters: list[Callable[[Any, Any], None]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._setters = [self._compile(path) for path in self.fields]

    @staticmethod
    def _compile(path: str) -> Callable[[Any, Any], None]:
        attr_path, fd = resolve_field(path)
        parts = attr_path.split(".")
        parents, leaf = parts[:-1], parts[-1]
        repeated = fd.is_repeated
        enum_map = (
            {v.name: v.number for v in fd.enum_type.values} if fd.enum_type is not None else None
        )

        def target(row: Any) -> Any:
            msg = row
            for p in parents:
                msg = getattr(msg, p)
            return msg

        if repeated and fd.message_type is not None:

            def set_repeated_messages(row: Any, value: Any) -> None:
                container = getattr(target(row), leaf)
                for item in value:
                    sub = container.add()
                    for k, v in item.items():
                        setattr(sub, k, v)

            return set_repeated_messages
        if repeated:

            def set_repeated(row: Any, value: Any) -> None:
                getattr(target(row), leaf).extend(
                    enum_map[v] if enum_map is not None else v for v in value
                )

            return set_repeated
        if enum_map is not None:

            def set_enum(row: Any, value: Any) -> None:
                setattr(
                    target(row), leaf, enum_map.get(value, 1) if isinstance(value, str) else value
                )

            return set_enum

        def set_scalar(row: Any, value: Any) -> None:
            setattr(target(row), leaf, value)

        return set_scalar

    def fill(self, row: Any, values: Mapping[str, Any]) -> Any:
        """Set the selected fields of ``row`` (a raw GoogleAdsRow, e.g. ``results.add()``)."""
        for path, setter in zip(self.fields, self._setters, strict=True):
            value = values.get(path)
            if value is not None:
                setter(row, value)
        return row

    def build(self, values: Mapping[str, Any]) -> Any:
        return self.fill(google_ads_service.GoogleAdsRow.pb()(), values)


def batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
