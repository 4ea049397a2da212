"""Responses as the endpoint's HTTP server writes them."""

from __future__ import annotations

import pytest

from cumulo.gateway.http_server import encode_response
from cumulo.protocol.http import HttpResponse


def _parts(raw: bytes) -> tuple[str, list[str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *headers = head.decode("latin-1").split("\r\n")
    return status, [h.lower() for h in headers], body


def test_one_block_with_length_date_and_repeated_headers():
    response = HttpResponse(200, {"Content-Type": "application/json"}, b'{"a":1}',
                            extra_headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    status, headers, body = _parts(encode_response(response, "GET", close=False))
    assert status == "HTTP/1.1 200 OK"
    assert "content-length: 7" in headers
    assert headers.count("set-cookie: a=1") == 1 and "set-cookie: b=2" in headers
    assert any(h.startswith("date: ") and h.endswith(" gmt") for h in headers)
    assert "connection: close" not in headers
    assert body == b'{"a":1}'


def test_head_keeps_the_length_without_a_body_and_204_has_neither():
    _, headers, body = _parts(encode_response(HttpResponse(200, {}, b"12345"), "HEAD", close=False))
    assert ("content-length: 5" in headers, body) == (True, b"")
    _, headers, body = _parts(encode_response(HttpResponse(204, {"Content-Length": "0"}, b""), "GET", close=True))
    assert not any(h.startswith("content-length") for h in headers)
    assert "connection: close" in headers and body == b""


def test_an_explicit_length_is_not_repeated_and_unknown_statuses_still_have_a_line():
    raw = encode_response(HttpResponse(299, {"Content-Length": "2"}, b"ok"), "GET", close=False)
    status, headers, _ = _parts(raw)
    assert status.startswith("HTTP/1.1 299")
    assert [h for h in headers if h.startswith("content-length")] == ["content-length: 2"]


@pytest.mark.parametrize("name, value", [("X-Evil", "a\r\nSet-Cookie: x=1"), ("X-Evil\r\nA", "b"),
                                         ("X-Bad", "line\nbreak")])
def test_headers_that_would_break_the_framing_are_refused(name, value):
    with pytest.raises(ValueError):
        encode_response(HttpResponse(200, {name: value}, b""), "GET", close=False)
