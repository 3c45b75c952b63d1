"""Search criteria as Zoho writes them: `((Email:equals:a@b.com)and(Last_Name:starts_with:K))`.

Supported operators: equals (which, as in Zoho, matches text that *contains* the value, case-insensitively),
not_equal, starts_with, in, greater_than, greater_equal, less_than, less_equal, between. `\\(`, `\\)`, `\\,`
escape the grammar's characters inside values. At most 10 conditions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.zoho.sandbox.timeutil import parse_time

MAX_CONDITIONS = 10
OPERATORS = frozenset(
    {
        "equals",
        "not_equal",
        "starts_with",
        "in",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
        "between",
    }
)


class CriteriaError(ValueError):
    """The criteria text cannot be parsed or names an unknown field."""


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    joins: tuple[str, ...]  # "and" / "or" between consecutive parts, applied left to right
    parts: tuple[Condition | Group, ...]


Node = Condition | Group


def _split(text: str, separator: str, limit: int = -1) -> list[str]:
    """Split on unescaped separators and unescape the pieces."""
    pieces, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator and limit != 0:
            pieces.append("".join(current))
            current = []
            limit -= 1
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.pos = 0
        self.conditions = 0

    def parse(self) -> Node:
        node = self._sequence(top=True)
        if self.pos != len(self.text):
            raise CriteriaError("unexpected text after criteria")
        return node

    def _sequence(self, top: bool) -> Node:
        parts: list[Node] = [self._group()]
        joins: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != ")":
            match = re.compile(r"\s*(and|or)\s*", re.IGNORECASE).match(self.text, self.pos)
            if match is None:
                raise CriteriaError("expected 'and' or 'or'")
            joins.append(match.group(1).lower())
            self.pos = match.end()
            parts.append(self._group())
        if not top and self.pos >= len(self.text):
            raise CriteriaError("unbalanced parentheses")
        return parts[0] if len(parts) == 1 else Group(tuple(joins), tuple(parts))

    def _group(self) -> Node:
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise CriteriaError("expected '('")
        self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            node = self._sequence(top=False)
        else:
            node = self._condition()
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise CriteriaError("expected ')'")
        self.pos += 1
        return node

    def _condition(self) -> Condition:
        start, escaped = self.pos, False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == ")":
                break
            self.pos += 1
        pieces = _split(self.text[start : self.pos], ":", limit=2)
        if len(pieces) != 3 or not pieces[0] or pieces[1] not in OPERATORS:
            raise CriteriaError("a condition is field:operator:value")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise CriteriaError("too many conditions")
        raw_value = self.text[start : self.pos].split(":", 2)[2]
        values = tuple(_split(raw_value, ",")) if pieces[1] in {"in", "between"} else (pieces[2],)
        if pieces[1] == "between" and len(values) != 2:
            raise CriteriaError("between takes two values")
        return Condition(pieces[0].strip(), pieces[1], values)


def parse_criteria(text: str) -> Node:
    return _Parser(text).parse()


def field_names(node: Node) -> set[str]:
    if isinstance(node, Condition):
        return {node.field.split(".")[0]}
    return set().union(*(field_names(p) for p in node.parts))


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None  # NaN and Infinity compare to nothing


def _comparable(actual: Any, wanted: str) -> tuple[Any, Any] | None:
    """Both sides as numbers, datetimes or dates when they read as such; None if not comparable."""
    if isinstance(actual, bool):
        return None
    if isinstance(actual, int | Decimal):
        number = _number(wanted)
        return (Decimal(actual), number) if number is not None else None
    if isinstance(actual, str):
        left, right = parse_time(actual), parse_time(wanted)
        if left is not None and right is not None:
            return left, right
        if len(actual) == 10 and len(wanted) == 10:
            return actual, wanted
    return None


def _field_value(values: dict[str, Any], name: str) -> Any:
    base, _, part = name.partition(".")
    value = values.get(base)
    if isinstance(value, dict):
        return value.get(part or "name")
    return value


def _equals(actual: Any, wanted: str) -> bool:
    if actual is None:
        return wanted.lower() == "null"
    if isinstance(actual, bool):
        return str(actual).lower() == wanted.lower()
    if isinstance(actual, list):
        return any(_equals(v, wanted) for v in actual)
    pair = _comparable(actual, wanted)
    if pair is not None:
        return bool(pair[0] == pair[1])
    return wanted.lower() in str(actual).lower()


def _compare(operator: str, actual: Any, wanted: str) -> bool:
    pair = _comparable(actual, wanted)
    if pair is None:
        return False
    left, right = pair
    if operator == "greater_than":
        return bool(left > right)
    if operator == "greater_equal":
        return bool(left >= right)
    if operator == "less_than":
        return bool(left < right)
    return bool(left <= right)


def _holds(condition: Condition, values: dict[str, Any]) -> bool:
    actual = _field_value(values, condition.field)
    operator, wanted = condition.operator, condition.values
    if operator == "equals":
        return _equals(actual, wanted[0])
    if operator == "not_equal":
        return not _equals(actual, wanted[0])
    if operator == "starts_with":
        return actual is not None and str(actual).lower().startswith(wanted[0].lower())
    if operator == "in":
        return any(_equals(actual, w) for w in wanted)
    if operator == "between":
        return _compare("greater_equal", actual, wanted[0]) and _compare("less_equal", actual, wanted[1])
    return _compare(operator, actual, wanted[0])


def matches(node: Node, values: dict[str, Any]) -> bool:
    if isinstance(node, Condition):
        return _holds(node, values)
    result = matches(node.parts[0], values)
    for join, part in zip(node.joins, node.parts[1:], strict=True):
        result = (result and matches(part, values)) if join == "and" else (result or matches(part, values))
    return result


def criteria_matcher(node: Node) -> Callable[[dict[str, Any]], bool]:
    return lambda values: matches(node, values)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def email_matcher(email: str) -> Callable[[dict[str, Any]], bool]:
    wanted = email.strip().lower()
    return lambda v: any(
        isinstance(v.get(f), str) and v[f].lower() == wanted for f in ("Email", "Secondary_Email")
    )


def phone_matcher(phone: str) -> Callable[[dict[str, Any]], bool]:
    wanted = _digits(phone)
    return lambda v: (
        bool(wanted)
        and any(isinstance(v.get(f), str) and wanted in _digits(v[f]) for f in ("Phone", "Mobile", "Fax"))
    )


def word_matcher(word: str) -> Callable[[dict[str, Any]], bool]:
    wanted = word.strip().lower()

    def test(values: dict[str, Any]) -> bool:
        for value in values.values():
            text = value.get("name") if isinstance(value, dict) else value
            if isinstance(text, str) and wanted in text.lower():
                return True
        return False

    return test
