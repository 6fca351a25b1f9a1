"""A GAQL parser and query engine for the sandbox.

It understands Google's grammar (https://developers.google.com/google-ads/api/docs/query/grammar):
``SELECT f, … FROM resource [WHERE cond AND …] [ORDER BY f [ASC|DESC], …] [LIMIT n]
[PARAMETERS …]``, with the operators =, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE,
CONTAINS ANY / ALL / NONE, IS NULL, IS NOT NULL, BETWEEN … AND …, DURING <range>,
REGEXP_MATCH and NOT REGEXP_MATCH (RE2 syntax; Python's ``re`` agrees on the common subset).
Anything else is answered with the QueryError Google would send, never with a crash. Which
fields a resource can serve, and the order of aggregation, live in :mod:`spectra.sandbox.engine`.
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


QUERY_PARAMETERS = frozenset({"include_drafts", "omit_unselected_resource_names"})
"""https://developers.google.com/google-ads/api/docs/query/structure#parameters"""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Condition:
    field: str
    # =, !=, <, <=, >, >=, IN, NOT IN, LIKE, NOT LIKE, CONTAINS ANY|ALL|NONE, IS NULL,
    # IS NOT NULL, BETWEEN, DURING, REGEXP_MATCH, NOT REGEXP_MATCH
    op: str
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
        """The finite day range the WHERE clause pins, if any (inclusive).

        Filters on segments.date and on the coarser core date segments (week, month, quarter,
        year) all narrow it: ``segments.month = '2026-10-01'`` pins October.
        """
        lo: dt.date | None = None
        hi: dt.date | None = None
        for cond in self.conditions:
            if cond.field not in _PERIOD_OF:
                continue
            first, last = _PERIOD_OF[cond.field]
            if cond.op == "DURING":
                a, b = during_range(cond.values[0], as_of)
            elif cond.op == "BETWEEN":
                a, b = first(cond.values[0]), last(cond.values[1])
            elif cond.op == "=":
                a, b = first(cond.values[0]), last(cond.values[0])
            elif cond.op in (">", ">="):
                start = last(cond.values[0]) + dt.timedelta(days=1)
                a, b = (start if cond.op == ">" else first(cond.values[0])), None
            elif cond.op in ("<", "<="):
                end = first(cond.values[0]) - dt.timedelta(days=1)
                a, b = None, (end if cond.op == "<" else last(cond.values[0]))
            elif cond.op == "IN":
                a, b = min(map(first, cond.values)), max(map(last, cond.values))
            else:
                continue
            lo = a if lo is None or (a is not None and a > lo) else lo
            hi = b if hi is None or (b is not None and b < hi) else hi
        if lo is None or hi is None:
            return None
        return lo, hi


def _year_first(value: Any) -> dt.date:
    return dt.date(int(value), 1, 1)


def _year_last(value: Any) -> dt.date:
    return dt.date(int(value), 12, 31)


def _month_last(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _quarter_last(day: dt.date) -> dt.date:
    return _month_last(day.replace(month=day.month + 2))


def _same(day: dt.date) -> dt.date:
    return day


_PERIOD_OF: dict[str, tuple[Callable[[Any], dt.date], Callable[[Any], dt.date]]] = {
    "segments.date": (_same, _same),
    "segments.week": (_same, lambda d: d + dt.timedelta(days=6)),
    "segments.month": (_same, _month_last),
    "segments.quarter": (_same, _quarter_last),
    "segments.year": (_year_first, _year_last),
}


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
            return self.unquote(tok)
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
            self.parameters()
        if (tok := self.peek()) is not None:
            raise query_error("UNEXPECTED_INPUT", f"unexpected input {tok.text!r} at {tok.pos}")
        return Query(
            tuple(fields), resource_tok.text, tuple(conditions), tuple(order_by), limit, self.text
        )

    def parameters(self) -> None:
        """PARAMETERS name = value, …: Google's two query parameters, both booleans."""
        while True:
            name = self.next()
            if name.kind != "word" or name.text not in QUERY_PARAMETERS:
                raise query_error(
                    "BAD_PARAMETER_NAME",
                    f"unknown query parameter {name.text!r}",
                    trigger=name.text,
                )
            op = self.next()
            if op.text != "=":
                raise query_error("BAD_OPERATOR", f"expected = after {name.text} at {op.pos}")
            value = self.next()
            if value.text.lower() not in ("true", "false"):
                raise query_error(
                    "BAD_PARAMETER_VALUE",
                    f"{name.text} takes true or false, not {value.text!r}",
                    trigger=value.text,
                )
            if (tok := self.peek()) is None or tok.text != ",":
                return
            self.next()

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
        if self.keyword("NOT", "REGEXP_MATCH"):
            return Condition(name, "NOT REGEXP_MATCH", (self.regexp(),))
        if self.keyword("REGEXP_MATCH"):
            return Condition(name, "REGEXP_MATCH", (self.regexp(),))
        for quantifier in ("ANY", "ALL", "NONE"):
            if self.keyword("CONTAINS", quantifier):
                return Condition(name, f"CONTAINS {quantifier}", self.value_list())
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

    def regexp(self) -> str:
        tok = self.next()
        if tok.kind != "string":
            raise query_error("BAD_VALUE", f"REGEXP_MATCH needs a string at {tok.pos}")
        pattern = str(self.unquote(tok))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise query_error("BAD_VALUE", f"bad regular expression {pattern!r}: {exc}") from None
        return pattern

    @staticmethod
    def unquote(tok: Token) -> str:
        return bytes(tok.text[1:-1], "utf-8").decode("unicode_escape")

    def value_list(self) -> tuple[Any, ...]:
        tok = self.next()
        if tok.text != "(":
            raise query_error("EXPECTED_LIST", f"expected ( at {tok.pos}")
        values = []
        while True:
            if (ahead := self.peek()) is not None and ahead.text == ")":
                self.next()
                break
            values.append(self.value())
            if (ahead := self.peek()) is not None and ahead.text == ",":
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


CORE_DATE_SEGMENTS = (
    "segments.date",
    "segments.week",
    "segments.month",
    "segments.quarter",
    "segments.year",
)
"""Segments that need a finite date range in WHERE (Google's EXPECTED_FILTERS_ON_DATE_RANGE)."""

_PERIOD_START_CHECK: dict[str, tuple[str, Callable[[dt.date], bool]]] = {
    "segments.week": ("a Monday", lambda d: d.weekday() == 0),
    "segments.month": ("the first day of a month", lambda d: d.day == 1),
    "segments.quarter": (
        "the first day of a quarter",
        lambda d: d.day == 1 and d.month in (1, 4, 7, 10),
    ),
}

_ENUM_OPS = frozenset({"=", "!=", "IN", "NOT IN", "CONTAINS ANY", "CONTAINS ALL", "CONTAINS NONE"})


def _check_enum(cond: Condition, fd: Any) -> None:
    """Enum conditions name a constant of the field's enum (BAD_ENUM_CONSTANT otherwise).

    UNSPECIFIED and UNKNOWN exist in every enum but are never values a filter can match
    (Google: PROHIBITED_ENUM_CONSTANT, "an unsupported enum constant").
    """
    if fd.enum_type is None or cond.op not in _ENUM_OPS:
        return
    names = fd.enum_type.values_by_name
    for value in cond.values:
        if not isinstance(value, str) or value not in names:
            raise query_error(
                "BAD_ENUM_CONSTANT",
                f"{cond.field}: {value!r} is not a {fd.enum_type.name} constant",
                trigger=str(value),
            )
        if value in ("UNSPECIFIED", "UNKNOWN"):
            raise query_error(
                "PROHIBITED_ENUM_CONSTANT",
                f"{cond.field}: {value} cannot be used in a condition",
                trigger=value,
            )


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
        fd = _field_descriptor(cond.field)
        _check_enum(cond, fd)
        if cond.field in CORE_DATE_SEGMENTS[:4] and cond.op not in (
            "DURING",
            "IS NULL",
            "IS NOT NULL",
        ):
            cond = Condition(
                cond.field, cond.op, tuple(_parse_date(v, cond.field) for v in cond.values)
            )
            if cond.field in _PERIOD_START_CHECK:
                what, ok = _PERIOD_START_CHECK[cond.field]
                for day in cond.values:
                    if not ok(day):
                        raise query_error(
                            "MISALIGNED_DATE_FOR_FILTER",
                            f"{cond.field}: {day.isoformat()} is not {what}",
                            trigger=day.isoformat(),
                        )
            if cond.op == "BETWEEN" and cond.values[0] > cond.values[1]:
                raise query_error(
                    "DATE_RANGE_TOO_NARROW",
                    f"{cond.field}: BETWEEN starts after it ends",
                )
        conditions.append(cond)
    for path, _ in query.order_by:
        if _field_descriptor(path).is_repeated:
            raise query_error(
                "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
                f"{path} is repeated and cannot be sorted on",
                trigger=path,
            )
    query = Query(
        query.fields, query.resource, tuple(conditions), query.order_by, query.limit, text
    )
    selected_core = [f for f in CORE_DATE_SEGMENTS if f in query.fields]
    if selected_core and query.date_range(dt.date.today()) is None:
        raise query_error(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            f"{selected_core[0]} in SELECT needs a finite date range in WHERE",
        )
    return query


def _like(pattern: str) -> re.Pattern[str]:
    """LIKE: % is any run, _ one character, and [x] the literal x (Google's escape for %, _, [)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[" and i + 2 < len(pattern) and pattern[i + 2] == "]":
            out.append(re.escape(pattern[i + 1]))
            i += 3
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _items(value: Any) -> set[Any]:
    if value is None:
        return set()
    if isinstance(value, list | tuple | set | frozenset):
        return set(value)
    return {value}


def _predicate(cond: Condition, as_of: dt.date) -> Callable[[Mapping[str, Any]], bool]:
    name = cond.field
    is_date = name in CORE_DATE_SEGMENTS[:4]

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
    if op in ("REGEXP_MATCH", "NOT REGEXP_MATCH"):
        # RE2 as Google applies it: the pattern must match the whole value
        regexp = re.compile(str(values[0]))
        if op == "REGEXP_MATCH":
            return lambda r: (v := get(r)) is not None and regexp.fullmatch(str(v)) is not None
        return lambda r: (v := get(r)) is None or regexp.fullmatch(str(v)) is None
    if op.startswith("CONTAINS "):
        wanted = set(values)
        if op == "CONTAINS ANY":
            return lambda r: bool(_items(get(r)) & wanted)
        if op == "CONTAINS ALL":
            return lambda r: wanted <= _items(get(r))
        return lambda r: not (_items(get(r)) & wanted)
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


def _order_key(name: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    """Sort key on one field; a missing value sorts after the present ones (ascending)."""
    return lambda row: (row.get(name) is None, row.get(name))


def execute(
    query: Query, rows: Iterable[Mapping[str, Any]], *, as_of: dt.date
) -> list[Mapping[str, Any]]:
    """Filter, order and limit rows (dicts keyed by field path) as Google would."""
    predicates = [_predicate(c, as_of) for c in query.conditions]
    selected = [r for r in rows if all(p(r) for p in predicates)] if predicates else list(rows)
    for name, desc in reversed(query.order_by):
        selected.sort(key=_order_key(name), reverse=desc)
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

        if fd.message_type is not None:

            def set_message(row: Any, value: Any) -> None:
                # a message field (change_event.changed_fields, a FieldMask) from a mapping
                sub = getattr(target(row), leaf)
                for k, v in value.items():
                    if isinstance(v, list | tuple):
                        getattr(sub, k).extend(v)
                    else:
                        setattr(sub, k, v)

            return set_message

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
