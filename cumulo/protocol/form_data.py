"""Reading ``multipart/form-data`` bodies (browser form uploads, such as S3's POST Object)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cumulo.protocol.errors import AwsError

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PARAMETER = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class FormPart:
    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None


def malformed() -> AwsError:
    return AwsError("MalformedPOSTRequest",
                    "The body of your POST request is not well-formed multipart/form-data.", status=400)


def parse(content_type: str, body: bytes) -> list[FormPart]:
    """The parts of a ``multipart/form-data`` body, in order; ``content_type`` is the full header."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise malformed()
    delimiter = b"--" + found.group(1).encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise malformed()
    parts = []
    for section in sections[1:-1]:
        head, separator, value = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise malformed()
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, text = line.partition(":")
            headers[name.strip().lower()] = text.strip()
        parameters = dict(_PARAMETER.findall(headers.get("content-disposition", "")))
        if "name" not in parameters:
            raise malformed()
        parts.append(FormPart(parameters["name"], value.removesuffix(b"\r\n"), parameters.get("filename"),
                              headers.get("content-type")))
    return parts
