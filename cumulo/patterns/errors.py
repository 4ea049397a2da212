"""The one exception the pattern engine raises for a bad pattern.

Every validation failure carries the bare *reason* (event-ruler's wording, which is what
AWS puts after ``Reason:``) and the full AWS *message* and error *code* of the service whose
dialect compiled the pattern, so an API layer can answer with ``code``/``message`` as is.
"""

from __future__ import annotations


class InvalidEventPattern(ValueError):
    """A pattern (EventBridge event pattern, SNS filter policy, Lambda filter) is not valid.

    ``reason``: what is wrong, e.g. ``"prefix match pattern must be a string"``.
    ``message``: the service's full message, e.g.
    ``"Event pattern is not valid. Reason: prefix match pattern must be a string"``.
    ``code``: the service's error code, e.g. ``"InvalidEventPatternException"``.
    """

    def __init__(
        self,
        reason: str,
        *,
        message: str | None = None,
        code: str = "InvalidEventPatternException",
    ) -> None:
        self.reason = reason
        self.message = message if message is not None else f"Event pattern is not valid. Reason: {reason}"
        self.code = code
        super().__init__(self.message)
