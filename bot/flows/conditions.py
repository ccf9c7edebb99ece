"""Skip logic (`when:`): a tiny expression language over earlier answers.

Polls come from coordinators and from imported XLSForms, so a condition is untrusted text.
It is tokenised and parsed here by hand and evaluated over a tree of our own nodes; it is
never given to eval(), and the grammar has no attribute access, calls, indexing or
arithmetic, so there is nothing to escape into.

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("=="|"!="|"<"|"<="|">"|">=") operand
                          | "in" operand | "not" "in" operand)?
    operand    := NAME | STRING | NUMBER | "true" | "false" | "null" | list | "(" expr ")"
    list       := "[" (literal ("," literal)* ","?)? "]"

A bare operand is not a condition (`works` alone is rejected): "is it truthy" would mean
different things for a yes/no answer stored as "no" and for a number stored as 0.

Evaluation never raises. A skipped or missing answer is None (`null`); comparing values of
different kinds is False, except that a number and a numeric string compare as numbers.
`'x' in q` is true when the multi-choice answer q contains x (or a single answer equals x).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

MAX_LENGTH = 500
MAX_DEPTH = 20
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")


class ConditionError(ValueError):
    """A condition that does not parse; `position` is a 0-based offset into the text."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class _Token:
    kind: str  # name, keyword, string, number, op, punct, end
    text: str
    value: object
    position: int


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],])
    """,
    re.VERBOSE,
)


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ConditionError(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "name" and raw in KEYWORDS:
            kind = "keyword"
        if kind == "number":
            tokens.append(_Token(kind, raw, float(raw) if "." in raw else int(raw), pos))
        elif kind == "string":
            tokens.append(_Token(kind, raw, raw[1:-1], pos))
        elif kind != "space":
            tokens.append(_Token(kind, raw, raw, pos))
        pos = match.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


# --- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    key: str

    def value(self, answers: Mapping[str, object]) -> object:
        return answers.get(self.key)


@dataclass(frozen=True)
class _Literal:
    literal: object

    def value(self, answers: Mapping[str, object]) -> object:
        return self.literal


@dataclass(frozen=True)
class _List:
    items: tuple[object, ...]

    def value(self, answers: Mapping[str, object]) -> object:
        return list(self.items)


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Operand
    right: _Operand

    def test(self, answers: Mapping[str, object]) -> bool:
        left, right = self.left.value(answers), self.right.value(answers)
        if self.op == "in":
            return _contains(right, left)
        if self.op == "not in":
            return not _contains(right, left)
        return _compare(self.op, left, right)


@dataclass(frozen=True)
class _Not:
    operand: _Bool

    def test(self, answers: Mapping[str, object]) -> bool:
        return not self.operand.test(answers)


@dataclass(frozen=True)
class _BoolOp:
    op: str
    operands: tuple[_Bool, ...]

    def test(self, answers: Mapping[str, object]) -> bool:
        if self.op == "and":
            return all(o.test(answers) for o in self.operands)
        return any(o.test(answers) for o in self.operands)


@dataclass(frozen=True)
class _Constant:
    truth: bool

    def test(self, answers: Mapping[str, object]) -> bool:
        return self.truth


_Operand = _Name | _Literal | _List
_Bool = _Compare | _Not | _BoolOp | _Constant


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _compare(op: str, left: object, right: object) -> bool:
    # Numbers and numeric strings compare as numbers: a number answer may be stored as
    # text by a channel, and "5" == 5 should not silently be False.
    numeric = (isinstance(left, int | float) and not isinstance(left, bool)) or (
        isinstance(right, int | float) and not isinstance(right, bool)
    )
    if numeric:
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            left, right = a, b
    if op == "==":
        return _same_kind(left, right) and left == right
    if op == "!=":
        return not (_same_kind(left, right) and left == right)
    if not (_ordered_kind(left) and _same_kind(left, right)):
        return False
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def _same_kind(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return True
    return type(a) is type(b)


def _ordered_kind(a: object) -> bool:
    return isinstance(a, int | float | str) and not isinstance(a, bool)


def _contains(container: object, item: object) -> bool:
    if isinstance(container, str):
        # A single-choice answer "contains" only itself, as XLSForm's selected() does.
        return _compare("==", item, container)
    if not isinstance(container, list | tuple | set | frozenset):
        return False
    if isinstance(item, list | tuple | set | frozenset):
        # `q in ['a', 'b']` with a multi-choice q: any selected value listed.
        return any(_contains(container, one) for one in item)
    return any(_compare("==", item, element) for element in container)


# --- the parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenise(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, text: str, what: str) -> None:
        if not self.at(kind, text):
            raise ConditionError(f"expected {what}", self.current.position)
        self.advance()

    def parse(self) -> _Bool:
        if self.at("end"):
            raise ConditionError("empty condition", 0)
        node = self.boolean()
        if not self.at("end"):
            raise ConditionError(f"unexpected {self.current.text!r}", self.current.position)
        return node

    def boolean(self) -> _Bool:
        node = self.or_expr()
        if not isinstance(node, _Compare | _Not | _BoolOp | _Constant):
            raise ConditionError("expected a comparison such as q == 'x'", self.current.position)
        return node

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError("condition is nested too deeply", self.current.position)

    def or_expr(self) -> _Bool | _Operand:
        first = self.and_expr()
        if not self.at("keyword", "or"):
            return first
        operands = [self.as_bool(first)]
        while self.at("keyword", "or"):
            self.advance()
            operands.append(self.as_bool(self.and_expr()))
        return _BoolOp("or", tuple(operands))

    def and_expr(self) -> _Bool | _Operand:
        first = self.not_expr()
        if not self.at("keyword", "and"):
            return first
        operands = [self.as_bool(first)]
        while self.at("keyword", "and"):
            self.advance()
            operands.append(self.as_bool(self.not_expr()))
        return _BoolOp("and", tuple(operands))

    def not_expr(self) -> _Bool | _Operand:
        if self.at("keyword", "not"):
            self.advance()
            self.nest()
            operand = self.as_bool(self.not_expr())
            self.depth -= 1
            return _Not(operand)
        return self.comparison()

    def comparison(self) -> _Bool | _Operand:
        left = self.operand()
        token = self.current
        if token.kind == "op":
            self.advance()
            return _Compare(token.text, self.as_value(left, token), self.operand_value())
        if self.at("keyword", "in"):
            self.advance()
            return _Compare("in", self.as_value(left, token), self.operand_value())
        if self.at("keyword", "not"):
            self.advance()
            self.expect("keyword", "in", "'in' after 'not'")
            return _Compare("not in", self.as_value(left, token), self.operand_value())
        return left

    def operand_value(self) -> _Operand:
        token = self.current
        return self.as_value(self.operand(), token)

    def operand(self) -> _Bool | _Operand:
        token = self.advance()
        if token.kind == "name":
            if self.at("punct", "("):
                raise ConditionError(
                    f"function calls are not allowed ({token.text})", token.position
                )
            return _Name(token.text)
        if token.kind in ("string", "number"):
            return _Literal(token.value)
        if token.kind == "keyword" and token.text in ("true", "false"):
            return _Constant(token.text == "true")
        if token.kind == "keyword" and token.text == "null":
            return _Literal(None)
        if token.kind == "punct" and token.text == "[":
            return self.list_literal()
        if token.kind == "punct" and token.text == "(":
            self.nest()
            inner = self.or_expr()
            self.expect("punct", ")", "')'")
            self.depth -= 1
            return inner
        if token.kind == "end":
            raise ConditionError("condition ends too early", token.position)
        raise ConditionError(f"unexpected {token.text!r}", token.position)

    def list_literal(self) -> _List:
        items: list[object] = []
        while not self.at("punct", "]"):
            token = self.advance()
            if token.kind in ("string", "number"):
                items.append(token.value)
            elif token.kind == "keyword" and token.text == "null":
                items.append(None)
            else:
                raise ConditionError("lists may hold only strings and numbers", token.position)
            if self.at("punct", ","):
                self.advance()
            elif not self.at("punct", "]"):
                raise ConditionError("expected ',' or ']'", self.current.position)
        self.advance()
        return _List(tuple(items))

    def as_bool(self, node: _Bool | _Operand) -> _Bool:
        if isinstance(node, _Compare | _Not | _BoolOp | _Constant):
            return node
        raise ConditionError("expected a comparison such as q == 'x'", self.current.position)

    @staticmethod
    def as_value(node: _Bool | _Operand, token: _Token) -> _Operand:
        if isinstance(node, _Name | _Literal | _List):
            return node
        if isinstance(node, _Constant):
            return _Literal(node.truth)
        raise ConditionError("a comparison cannot be compared", token.position)


def _walk(node: _Bool | _Operand):
    yield node
    if isinstance(node, _Compare):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, _Not):
        yield from _walk(node.operand)
    elif isinstance(node, _BoolOp):
        for operand in node.operands:
            yield from _walk(operand)


@dataclass(frozen=True)
class Condition:
    """A parsed `when:`; immutable and safe to share between sessions."""

    source: str
    root: _Bool

    @property
    def references(self) -> frozenset[str]:
        return frozenset(n.key for n in _walk(self.root) if isinstance(n, _Name))

    @property
    def compared_values(self) -> frozenset[tuple[str, object]]:
        """(question key, literal) pairs, so a validator can check choice values exist."""
        pairs: set[tuple[str, object]] = set()
        for node in _walk(self.root):
            if not isinstance(node, _Compare):
                continue
            for name, other in ((node.left, node.right), (node.right, node.left)):
                if not isinstance(name, _Name):
                    continue
                if isinstance(other, _Literal) and other.literal is not None:
                    pairs.add((name.key, other.literal))
                elif isinstance(other, _List):
                    pairs.update((name.key, item) for item in other.items if item is not None)
        return frozenset(pairs)

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        try:
            return bool(self.root.test(answers))
        except Exception:
            # A condition must never break a conversation; an unevaluable one is False.
            return False


def parse_condition(expr: str) -> Condition:
    if not isinstance(expr, str):
        raise ConditionError("a condition must be text", 0)
    if len(expr) > MAX_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return Condition(expr, _Parser(expr).parse())


@lru_cache(maxsize=4096)
def compiled(expr: str) -> Condition:
    """parse_condition, cached: the runtime evaluates the same few conditions very often."""
    return parse_condition(expr)
