"""GetRandomPassword: AWS's character classes and options."""

from __future__ import annotations

import secrets
import string
from typing import Any

from cumulo.protocol.errors import AwsError

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
DEFAULT_LENGTH = 32


def random_password(params: dict[str, Any]) -> str:
    """A password drawn with ``secrets`` from the classes the options leave, with at least one
    character of each included class when ``RequireEachIncludedType`` (the default)."""
    length = params.get("PasswordLength", DEFAULT_LENGTH)
    if not 1 <= length <= 4096:
        raise AwsError("InvalidParameterException", "Password length must be between 1 and 4096.")
    excluded = set(params.get("ExcludeCharacters") or "")
    classes = []
    for flag, characters in (("ExcludeLowercase", string.ascii_lowercase), ("ExcludeUppercase", string.ascii_uppercase),
                             ("ExcludeNumbers", string.digits), ("ExcludePunctuation", PUNCTUATION)):
        if not params.get(flag):
            classes.append([c for c in characters if c not in excluded])
    if params.get("IncludeSpace") and " " not in excluded:
        classes.append([" "])
    classes = [c for c in classes if c]
    if not classes:
        raise AwsError("InvalidParameterException", "The password can't be generated: every character is excluded.")
    require_each = params.get("RequireEachIncludedType", True)
    if require_each and length < len(classes):
        raise AwsError("InvalidParameterException",
                       "The password length is too short to include a character of each required type.")
    pool = [c for characters in classes for c in characters]
    chosen = [secrets.choice(characters) for characters in classes] if require_each else []
    chosen += [secrets.choice(pool) for _ in range(length - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)
