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
    patterns = [[quote, *tokenize(v), quote] for v in sorted(set(values))]
    if not patterns:
        return 0
    # A state is ("shared", tuple of leading tokens) for the literal start up to and
    # including the first star, or ("own", pattern index, position) after it.
    weight: dict[tuple, int] = {}
    trans: dict[tuple, dict[int, set[tuple]]] = {}
    star_states: set[tuple] = set()
    accept: set[tuple] = set()
    alphabet: set[int] = set()

    def state_at(index: int, position: int) -> tuple:
        tokens = patterns[index]
        first_star = next((k for k, t in enumerate(tokens) if t == STAR), len(tokens))
        if position <= first_star:
            return ("shared", tuple(tokens[:position]))
        return ("own", index, position)

    for index, tokens in enumerate(patterns):
        for position in range(len(tokens) + 1):
            state = state_at(index, position)
            weight[state] = weight.get(state, 0) + 1
            if position == len(tokens):
                accept.add(state)
                continue
            token = tokens[position]
            if token == STAR:
                star_states.add(state)
            else:
                alphabet.add(token)
                trans.setdefault(state, {}).setdefault(token, set()).add(state_at(index, position + 1))
    # Weights count values, not positions: a shared state is counted once per value.
    for state in list(weight):
        if state[0] == "shared":
            weight[state] = sum(1 for i in range(len(patterns)) if _passes(patterns[i], state[1]))

    def closure(states: set[tuple]) -> frozenset[tuple]:
        result = set(states)
        pending = [s for s in states if s in star_states]
        while pending:
            star = pending.pop()
            for index in range(len(patterns)):
                nxt = _after_star(patterns, index, star, state_at)
                if nxt is not None and nxt not in result:
                    result.add(nxt)
                    if nxt in star_states:
                        pending.append(nxt)
        return frozenset(result)

    symbols = [*sorted(alphabet), 256]  # 256: any byte that no value names
    start = closure({("shared", ())})
    seen = {start}
    pending = [start]
    worst = 0
    while pending:
        current = pending.pop()
        for symbol in symbols:
            nxt: set[tuple] = set()
            for state in current:
                if state in star_states:
                    nxt.add(state)
                nxt.update(trans.get(state, {}).get(symbol, ()))
            if not nxt:
                continue
            reached = closure(nxt)
            score = sum(weight[s] for s in reached if s not in accept)
            worst = max(worst, score)
            if worst > MAX_COMPLEXITY:
                return worst
            if reached not in seen:
                seen.add(reached)
                pending.append(reached)
    return worst


def _passes(tokens: list[int], prefix: tuple) -> bool:
    return tuple(tokens[: len(prefix)]) == prefix


def _after_star(patterns: list[list[int]], index: int, star: tuple, state_at) -> tuple | None:
    """The state after skipping the star at ``star`` in pattern ``index`` (None if not there)."""
    tokens = patterns[index]
    for position, token in enumerate(tokens):
        if token == STAR and state_at(index, position) == star:
            return state_at(index, position + 1)
    return None
