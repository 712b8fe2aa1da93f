"""Conditions: when a state is evidenced, written over term list names.

    condition := or
    or        := and ("or" and)*
    and       := unary ("and" unary)*
    unary     := "not" unary | "(" or ")" | near | article | NAME | "entity"
    near      := ("near" | "before" | "together") "(" operand "," operand "," NUMBER ")"
    article   := "article" "(" operand ")"
    operand   := NAME | "entity"

A condition is tested on one sentence at a time (title and summary both count),
so `jet and iran` means both in the same sentence. `near(a, b, N)` asks for a
word of `a` and a word of `b` with at most N words between them; `before(a, b,
N)` the same, with the word of `a` first; `together(a, b, N)` the same as near,
in one clause (no comma, semicolon, dash, bracket, "but" or "while" between;
a headline's colon does not split: "Power of Siberia 2: Russia and China sign
deal"). `article(x)` lets `x` stand anywhere in the title or summary. `entity` is any alias of the
signal's entities; the observation records which entity matched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

ENTITY = "entity"
_KEYWORDS = {"and", "or", "not", "near", "before", "together", "article", ENTITY}
_TOKEN = re.compile(r"\s*(?:(?P<punct>[(),])|(?P<num>\d+)(?![\w-])|(?P<name>[A-Za-z_][\w-]*))")


class ConditionError(ValueError):
    """A condition that does not parse; the message says what was expected, and where."""


@dataclass(frozen=True)
class Name:
    name: str  # a term list, or ENTITY


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Near:
    left: Name
    right: Name
    words: int
    ordered: bool = False  # `before`: left comes first
    clause: bool = False  # `together`: in one clause


@dataclass(frozen=True)
class WholeArticle:
    """`article(x)`: `x` anywhere in the title or summary, not only in the sentence tested."""

    item: Name


Node = Name | And | Or | Not | Near | WholeArticle


def parse_condition(text: str) -> Node:
    """Parse a condition; raises ConditionError naming the position of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("empty condition: expected term list names joined by and/or/not")
    parser = _Parser(text)
    node = parser.parse_or()
    if (tok := parser.peek()) is not None:
        parser.fail(f"unexpected {tok[1]!r}")
    return node


def names_in(node: Node) -> set[str]:
    """Every term list name (and ENTITY) the condition uses."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, And | Or):
        return set().union(*(names_in(i) for i in node.items))
    if isinstance(node, Not | WholeArticle):
        return names_in(node.item)
    return {node.left.name, node.right.name}


def anchor_clauses(node: Node, cost: Callable[[frozenset[str]], Any] = len) -> list[frozenset[str]]:
    """What any text satisfying the condition must contain, as clauses over term list names.

    Each clause is a set of names at least one of which must match; every clause
    must hold. An empty list means nothing can be required (a condition that can
    hold on `not` alone).

    Of an `or`, each alternative gives its cheapest clause by `cost` (default: the
    fewest names) to the clause they form together. The matcher passes a cost that
    knows the lists' words, so that "footage and jet" offers the jet's names, not
    the common word "footage", to be looked up in every text.
    """
    if isinstance(node, Name):
        return [frozenset({node.name})]
    if isinstance(node, WholeArticle):
        return anchor_clauses(node.item, cost)
    if isinstance(node, Near):
        return [frozenset({node.left.name}), frozenset({node.right.name})]
    if isinstance(node, Not):
        return []
    if isinstance(node, And):
        return [clause for item in node.items for clause in anchor_clauses(item, cost)]
    alternatives = [anchor_clauses(item, cost) for item in node.items]
    if any(not clauses for clauses in alternatives):
        return []
    # What every alternative requires, the whole requires; and one of them holds.
    common = set(alternatives[0]).intersection(*alternatives[1:])
    union = frozenset().union(*(min(clauses, key=cost) for clauses in alternatives))
    return sorted(common | {union}, key=lambda clause: (len(clause), sorted(clause)))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m:
                rest = text[pos:].lstrip()
                column = len(text) - len(rest) + 1
                raise ConditionError(
                    f"unexpected character {rest[:1]!r} at column {column} in {text!r}"
                )
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self, message: str) -> NoReturn:
        tok = self.peek()
        where = f"column {tok[2] + 1}" if tok else "the end"
        raise ConditionError(f"{message} at {where} of {self.text!r}")

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or (kind and tok[0] != kind):
            expected = repr(value) if value else (kind or "more")
            self.fail(f"expected {expected}, found {repr(tok[1]) if tok else 'nothing'}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == value and tok[0] != "num"

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.at("or"):
            self.take("or")
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.at("and"):
            self.take("and")
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        if self.at("not"):
            self.take("not")
            return Not(self.parse_unary())
        if self.at("("):
            self.take("(")
            node = self.parse_or()
            self.take(")")
            return node
        if self.at("near") or self.at("before") or self.at("together"):
            keyword = self.take()[1]
            ordered, clause = keyword == "before", keyword == "together"
            self.take("(")
            left = self.parse_operand()
            self.take(",")
            right = self.parse_operand()
            self.take(",")
            words = int(self.take(kind="num")[1])
            self.take(")")
            return Near(left, right, words, ordered, clause)
        if self.at("article"):
            self.take("article")
            self.take("(")
            item = self.parse_operand()
            self.take(")")
            return WholeArticle(item)
        return self.parse_operand()

    def parse_operand(self) -> Name:
        tok = self.peek()
        if tok is None or tok[0] != "name" or (tok[1] in _KEYWORDS and tok[1] != ENTITY):
            self.fail(
                "expected a term list name" + (f", found {tok[1]!r}" if tok else ", found nothing")
            )
        self.i += 1
        return Name(tok[1])
