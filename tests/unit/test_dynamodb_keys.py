"""The order-preserving key encoding: text order of encoded keys is DynamoDB's order of the values
(numbers by value, strings and binaries by their bytes), so a store range read is a key range."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cumulo.services.dynamodb.keys import encode_key_value, encode_number
from cumulo.services.dynamodb.values import check_number, format_number

# Any number DynamoDB stores: up to 38 significant digits, magnitude 1E-130 to below 1E+126.
numbers = st.one_of(
    st.just(Decimal(0)),
    st.builds(lambda sign, digits, exponent: Decimal(f"{sign}{digits}E{exponent}"),
              st.sampled_from(["", "-"]), st.integers(1, 10**38 - 1), st.integers(-130, 87)),
    st.builds(lambda sign, digits, exponent: Decimal(f"{sign}{digits}E{exponent}"),
              st.sampled_from(["", "-"]), st.integers(1, 999), st.integers(-3, 3)))


@given(numbers, numbers)
def test_number_order(a, b):
    a, b = check_number(a), check_number(b)
    ea, eb = encode_number(a) + "/", encode_number(b) + "/"
    assert (ea < eb) == (a < b)
    assert (ea == eb) == (a == b)


@given(st.text(), st.text())
def test_string_order_is_utf8_byte_order(a, b):
    ea, eb = encode_key_value({"S": a}) + "/", encode_key_value({"S": b}) + "/"
    assert (ea < eb) == (a.encode() < b.encode())


@given(st.binary(), st.binary())
def test_binary_order(a, b):
    ea, eb = encode_key_value({"B": a}) + "/", encode_key_value({"B": b}) + "/"
    assert (ea < eb) == (a < b)


def test_equal_numbers_share_one_key_and_one_text():
    assert encode_number(Decimal("1.50")) == encode_number(Decimal("1.5")) == encode_number(Decimal("15E-1"))
    assert format_number(check_number(Decimal("1.50"))) == "1.5"
    assert format_number(check_number(Decimal("1E+3"))) == "1000"
    assert format_number(check_number(Decimal("-0.000"))) == "0"
