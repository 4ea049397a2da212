"""Wildcard values: syntax, matching and AWS's complexity limit.

Syntax (EventBridge): ``*`` matches any run of characters, including none. Two consecutive
``*`` are not allowed. ``\\*`` is a literal asterisk and ``\\\\`` a literal backslash; a
backslash before anything else (or at the end) is an error. Error positions count UTF-8
bytes and start at 1, because event-ruler parses the value with its opening quote.

Complexity: EventBridge refuses a rule whose wildcards could keep too many partial matches
alive at once ("Rule is too complex - try using fewer wildcard characters or fewer repeating
character sequences after a wildcard character"). Following event-ruler's
MachineComplexityEvaluator, the wildcard values of one field are laid out as a byte automaton
in which values share their literal start up to and including their first ``*``; every set
of states reachable by some input is weighed by the number of values that can still complete
from each state, and the rule is refused when some reachable set weighs more than
``MAX_COMPLEXITY``. The limit 10 accepts and refuses the examples AWS documents
(``/Users/*/dir/dir/dir/dir/dir/doc.txt`` is fine, ``*:*:*:*:*:event-bus/*`` is too complex).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_COMPLEXITY = 10
TOO_COMPLEX = (
    "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
    "sequences after a wildcard character"
)

STAR = -1  # token for a wildcard in a tokenized value; other tokens are byte values


def tokenize(value: str) -> list[int]:
    """The value's bytes with ``STAR`` for each wildcard; ValueError with AWS's reason if bad."""
    raw = value.encode("utf-8")
    tokens: list[int] = []
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x2A:  # '*'
            if i + 1 < len(raw) and raw[i + 1] == 0x2A:
                raise ValueError(f"Consecutive wildcard characters at pos {i + 1}")
            tokens.append(STAR)
        elif byte == 0x5C:  # backslash
            if i + 1 < len(raw) and raw[i + 1] in (0x2A, 0x5C):
                tokens.append(raw[i + 1])
                i += 1
            else:
                raise ValueError(f"Invalid escape character at pos {i + 1}")
        else:
            tokens.append(byte)
        i += 1
    return tokens


def to_regex(value: str) -> re.Pattern[str]:
    """A compiled regex that fully matches what the (valid) wildcard value matches."""
    tokens = tokenize(value)
    parts: list[str] = []
    literal = bytearray()
    for token in tokens:
        if token == STAR:
            parts.append(re.escape(literal.decode("utf-8")))
            literal.clear()
            parts.append(".*")
        else:
            literal.append(token)
    parts.append(re.escape(literal.decode("utf-8")))
    return re.compile("".join(parts), re.DOTALL)


def literal_prefix(value: str) -> str:
    """The literal text before the first wildcard (used to index wildcard values)."""
    tokens = tokenize(value)
    literal = bytearray()
    for token in tokens:
        if token == STAR:
            break
        literal.append(token)
    return literal.decode("utf-8", errors="ignore")


def complexity(values: Iterable[str]) -> int:
    """The weight of the heaviest reachable state set for these wildcard values of one field.

    Stops early (returning a value above ``MAX_COMPLEXITY``) once the limit is exceeded.
    """
    quote = 0x22
    automaton = _Automaton()
    for index, value in enumerate(sorted(set(values))):
        automaton.add(index, [quote, *tokenize(value), quote])
    if not automaton.weight:
        return 0
    start = automaton.closure({automaton.state(("shared", ()))})
    symbols = [*sorted(automaton.alphabet), 256]  # 256: any byte that no value names
    seen = {start}
    pending = [start]
    worst = 0
    while pending:
        current = pending.pop()
        for symbol in symbols:
            step: set[int] = set()
            for state in current:
                if automaton.star[state]:
                    step.add(state)
                step.update(automaton.moves[state].get(symbol, ()))
            if not step:
                continue
            reached = automaton.closure(step)
            worst = max(worst, sum(automaton.weight[s] for s in reached if not automaton.accept[s]))
            if worst > MAX_COMPLEXITY:
                return worst
            if reached not in seen:
                seen.add(reached)
                pending.append(reached)
    return worst


class _Automaton:
    """The byte automaton of a field's wildcard values, as event-ruler lays it out: values
    share states for their literal start up to and including the first ``*``."""

    def __init__(self) -> None:
        self.ids: dict[tuple, int] = {}
        self.weight: list[int] = []  # how many values pass through each state
        self.moves: list[dict[int, set[int]]] = []
        self.star: list[bool] = []  # a '*' state: loops on every byte
        self.skip: list[set[int]] = []  # where a '*' state goes on matching nothing
        self.accept: list[bool] = []
        self.alphabet: set[int] = set()

    def state(self, key: tuple) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.weight)
            self.weight.append(0)
            self.moves.append({})
            self.star.append(False)
            self.skip.append(set())
            self.accept.append(False)
        return found

    def add(self, index: int, tokens: list[int]) -> None:
        first_star = next((k for k, t in enumerate(tokens) if t == STAR), len(tokens))
        states = [
            self.state(("shared", tuple(tokens[:k])) if k <= first_star else ("own", index, k))
            for k in range(len(tokens) + 1)
        ]
        for k, state in enumerate(states):
            self.weight[state] += 1
            if k == len(tokens):
                self.accept[state] = True
            elif tokens[k] == STAR:
                self.star[state] = True
                self.skip[state].add(states[k + 1])
            else:
                self.alphabet.add(tokens[k])
                self.moves[state].setdefault(tokens[k], set()).add(states[k + 1])

    def closure(self, states: set[int]) -> frozenset[int]:
        result = set(states)
        pending = [s for s in states if self.star[s]]
        while pending:
            for nxt in self.skip[pending.pop()]:
                if nxt not in result:
                    result.add(nxt)
                    if self.star[nxt]:
                        pending.append(nxt)
        return frozenset(result)
