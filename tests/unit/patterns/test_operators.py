"""Each operator of the pattern language, with the edge cases AWS documents."""

from __future__ import annotations

import pytest

from ._support import match


class TestExactValues:
    def test_string_is_exact_and_case_sensitive(self):
        assert match({"source": ["aws.ec2"]}, {"source": "aws.ec2"})
        assert not match({"source": ["aws.ec2"]}, {"source": "AWS.EC2"})
        assert not match({"source": ["aws.ec2"]}, {"source": "aws.ec2 "})

    def test_any_listed_value_matches(self):
        assert match({"source": ["aws.s3", "aws.ec2"]}, {"source": "aws.ec2"})

    def test_all_fields_must_match(self):
        pattern = {"source": ["aws.ec2"], "detail": {"state": ["running"]}}
        assert match(pattern, {"source": "aws.ec2", "detail": {"state": "running"}})
        assert not match(pattern, {"source": "aws.ec2", "detail": {"state": "stopped"}})
        assert not match(pattern, {"source": "aws.ec2"})

    def test_empty_string(self):
        assert match({"LastName": [""]}, {"LastName": ""})
        assert not match({"LastName": [""]}, {"LastName": " "})

    @pytest.mark.parametrize(("value", "other"), [(True, False), (False, True), (None, "null")])
    def test_literals(self, value, other):
        assert match({"v": [value]}, {"v": value})
        assert not match({"v": [value]}, {"v": other})

    def test_literals_are_not_numbers_or_strings(self):
        assert not match({"v": [True]}, {"v": 1})
        assert not match({"v": [1]}, {"v": True})
        assert not match({"v": [False]}, {"v": "false"})
        assert not match({"v": [None]}, {"v": 0})

    @pytest.mark.parametrize(("pattern", "event"), [(3, 3.0), (300, 3e2), (3.0e2, 300), (0.5, 5e-1), (-0, 0)])
    def test_numbers_compare_numerically(self, pattern, event):
        assert match({"n": [pattern]}, {"n": event})

    def test_numbers_and_strings_never_meet(self):
        assert not match({"n": [300]}, {"n": "300"})
        assert not match({"n": ["300"]}, {"n": 300})

    def test_numbers_beyond_six_decimals_are_truncated(self):
        assert match({"n": [1.0000001]}, {"n": 1.0000009})
        assert not match({"n": [1.000001]}, {"n": 1.000002})

    def test_out_of_range_numbers_match_only_the_same_value(self):
        account = 123456789012
        assert match({"account": [account]}, {"account": account})
        assert not match({"account": [account]}, {"account": account + 1})

    def test_ip_literal_matches_other_spellings_of_the_address(self):
        assert match({"ip": ["2001:db8::1"]}, {"ip": "2001:0db8:0000:0000:0000:0000:0000:0001"})
        assert not match({"ip": ["10.0.0.1"]}, {"ip": "10.0.0.2"})

    def test_exactly(self):
        assert match({"v": [{"exactly": "prefix"}]}, {"v": "prefix"})


class TestPrefixSuffix:
    def test_prefix(self):
        assert match({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-02T18:43:48Z"})
        assert not match({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-03T18:43:48Z"})

    def test_prefix_and_suffix_only_match_strings(self):
        assert not match({"n": [{"prefix": "12"}]}, {"n": 123})
        assert not match({"n": [{"suffix": "23"}]}, {"n": 123})
        assert not match({"n": [{"prefix": "nu"}]}, {"n": None})

    def test_empty_prefix_matches_every_string(self):
        assert match({"v": [{"prefix": ""}]}, {"v": "anything"})
        assert not match({"v": [{"prefix": ""}]}, {"v": 1})

    def test_suffix(self):
        assert match({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.png"})
        assert not match({"FileName": [{"suffix": ".png"}]}, {"FileName": "image.PNG"})

    def test_ignore_case_variants(self):
        assert match({"s": [{"prefix": {"equals-ignore-case": "EventB"}}]}, {"s": "eventbridge"})
        assert match({"s": [{"suffix": {"equals-ignore-case": "tBridge"}}]}, {"s": "EVENTBRIDGE"})
        assert not match({"s": [{"suffix": {"equals-ignore-case": "bridge"}}]}, {"s": "bridges"})

    def test_several_prefixes_of_different_lengths(self):
        pattern = {"k": [{"prefix": "a"}, {"prefix": "abc"}, {"prefix": "xyz"}]}
        assert match(pattern, {"k": "abcdef"})
        assert match(pattern, {"k": "a"})
        assert not match(pattern, {"k": "xy"})


class TestEqualsIgnoreCase:
    def test_matches_any_casing(self):
        assert match({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"})
        assert not match({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "alicia"})

    def test_empty_value(self):
        assert match({"v": [{"equals-ignore-case": ""}]}, {"v": ""})


class TestWildcard:
    def test_star_matches_any_run_including_empty(self):
        pattern = {"f": [{"wildcard": "/Users/*/doc.txt"}]}
        assert match(pattern, {"f": "/Users/me/dir/doc.txt"})
        assert match({"f": [{"wildcard": "ab*"}]}, {"f": "ab"})
        assert not match(pattern, {"f": "/Users/me/doc.txt.bak"})

    def test_without_star_is_exact(self):
        assert match({"f": [{"wildcard": "abc"}]}, {"f": "abc"})
        assert not match({"f": [{"wildcard": "abc"}]}, {"f": "abcd"})

    def test_escaped_star_and_backslash_are_literal(self):
        assert match({"f": [{"wildcard": "a\\*b"}]}, {"f": "a*b"})
        assert not match({"f": [{"wildcard": "a\\*b"}]}, {"f": "axb"})
        assert match({"f": [{"wildcard": "a\\\\*"}]}, {"f": "a\\anything"})

    def test_regex_characters_are_literal(self):
        assert match({"f": [{"wildcard": "a.b*"}]}, {"f": "a.bc"})
        assert not match({"f": [{"wildcard": "a.b*"}]}, {"f": "axbc"})

    def test_newlines_are_characters_too(self):
        assert match({"f": [{"wildcard": "a*b"}]}, {"f": "a\nb"})

    def test_only_strings(self):
        assert not match({"f": [{"wildcard": "1*"}]}, {"f": 123})


class TestAnythingBut:
    def test_single_string(self):
        assert match({"s": [{"anything-but": "initializing"}]}, {"s": "running"})
        assert not match({"s": [{"anything-but": "initializing"}]}, {"s": "initializing"})

    def test_string_list(self):
        pattern = {"s": [{"anything-but": ["stopped", "overloaded"]}]}
        assert match(pattern, {"s": "running"})
        assert not match(pattern, {"s": "stopped"})

    def test_numbers(self):
        pattern = {"x": [{"anything-but": [100, 200, 300]}]}
        assert match(pattern, {"x": 101})
        assert not match(pattern, {"x": 3e2})
        assert not match(pattern, {"x": "abc"}), "a numeric anything-but only matches numbers"

    def test_string_anything_but_matches_null_numbers_and_booleans(self):
        pattern = {"s": [{"anything-but": "x"}]}
        assert match(pattern, {"s": None})
        assert match(pattern, {"s": 5})
        assert match(pattern, {"s": True})
        assert not match({"s": [{"anything-but": "5"}]}, {"s": "5"})
        assert match({"s": [{"anything-but": "5"}]}, {"s": 5}), "the number 5 is not the string '5'"

    def test_missing_field_does_not_match(self):
        assert not match({"s": [{"anything-but": "x"}]}, {"other": 1})

    def test_prefix_and_suffix(self):
        assert match({"r": [{"anything-but": {"prefix": "us-"}}]}, {"r": "eu-west-1"})
        assert not match({"r": [{"anything-but": {"prefix": "us-"}}]}, {"r": "us-east-1"})
        assert match({"r": [{"anything-but": {"prefix": ["us-", "eu-"]}}]}, {"r": "ap-south-1"})
        assert not match({"f": [{"anything-but": {"suffix": [".png", ".jpg"]}}]}, {"f": "a.jpg"})
        assert match({"f": [{"anything-but": {"suffix": ".png"}}]}, {"f": 12})

    def test_equals_ignore_case(self):
        pattern = {"s": [{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}]}
        assert not match(pattern, {"s": "STOPPED"})
        assert match(pattern, {"s": "running"})
        assert match(pattern, {"s": None})

    def test_wildcard(self):
        pattern = {"p": [{"anything-but": {"wildcard": ["*/lib/*", "*.tmp"]}}]}
        assert match(pattern, {"p": "/usr/bin/x"})
        assert not match(pattern, {"p": "/usr/lib/x"})
        assert not match(pattern, {"p": "a.tmp"})
        assert match(pattern, {"p": 7})

    def test_array_matches_when_some_element_is_not_excluded(self):
        assert match({"s": [{"anything-but": "a"}]}, {"s": ["a", "b"]})
        assert not match({"s": [{"anything-but": "a"}]}, {"s": ["a", "a"]})

    def test_several_anything_but_entries_are_alternatives(self):
        pattern = {"s": [{"anything-but": "a"}, {"anything-but": "b"}]}
        assert match(pattern, {"s": "a"})


class TestNumeric:
    @pytest.mark.parametrize(
        ("condition", "inside", "outside"),
        [
            ([">", 0, "<=", 5], [0.000001, 5, 3], [0, 5.000001, -1]),
            (["<", 10], [9.999999, -5e9], [10, 11]),
            ([">=", 10], [10, 5e9], [9.999999]),
            (["<=", 10], [10, -1], [10.000001]),
            ([">", 10], [10.000001], [10]),
            (["=", 3.018e2], [301.8, 301.80], [301.800001]),
            ([">=", -1.5, "<", -1], [-1.5, -1.000001], [-1, -1.500001]),
        ],
    )
    def test_ranges(self, condition, inside, outside):
        pattern = {"n": [{"numeric": condition}]}
        for value in inside:
            assert match(pattern, {"n": value}), value
        for value in outside:
            assert not match(pattern, {"n": value}), value

    def test_only_numbers_in_range_compare(self):
        pattern = {"n": [{"numeric": [">", 0]}]}
        assert not match(pattern, {"n": "5"})
        assert not match(pattern, {"n": True})
        assert not match(pattern, {"n": 5.000001e9}), "beyond 5e9 a number has no comparable form"
        assert match(pattern, {"n": 5e9})

    def test_precision_is_six_decimals(self):
        assert match({"n": [{"numeric": ["=", 0.1]}]}, {"n": 0.1000009})
        assert not match({"n": [{"numeric": [">", 0.1]}]}, {"n": 0.1000009})

    def test_binary_float_noise_does_not_leak(self):
        assert match({"n": [{"numeric": ["=", 0.3]}]}, {"n": 0.30000000000000004})
        assert match({"n": [{"numeric": ["<=", 0.3]}]}, {"n": 0.1 + 0.2})

    def test_many_overlapping_ranges_together(self):
        pattern = {"n": [{"numeric": [">", i, "<=", i + 2]} for i in range(0, 40, 3)]}
        for value in range(-2, 45):
            expected = any(i < value <= i + 2 for i in range(0, 40, 3))
            assert match(pattern, {"n": value}) is expected, value


class TestCidr:
    def test_ipv4(self):
        pattern = {"ip": [{"cidr": "10.0.0.0/24"}]}
        assert match(pattern, {"ip": "10.0.0.255"})
        assert not match(pattern, {"ip": "10.0.1.0"})
        assert not match(pattern, {"ip": "not an ip"})
        assert not match(pattern, {"ip": 167772161})

    def test_ipv6(self):
        pattern = {"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]}
        assert match(pattern, {"ip": "2001:db8:1234:1a00::dead:beef"})
        assert match(pattern, {"ip": "2001:0DB8:1234:1A00:FFFF:FFFF:FFFF:FFFF"})
        assert not match(pattern, {"ip": "2001:db8:1234:1a01::"})

    def test_families_never_mix(self):
        assert not match({"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "::1"})
        assert not match({"ip": [{"cidr": "::/0"}]}, {"ip": "0.0.0.1"})

    def test_block_starts_at_the_address_as_written(self):
        # event-ruler does not clear host bits: 10.0.0.5/24 covers 10.0.0.5 - 10.0.0.255
        pattern = {"ip": [{"cidr": "10.0.0.5/24"}]}
        assert match(pattern, {"ip": "10.0.0.200"})
        assert not match(pattern, {"ip": "10.0.0.4"})


class TestExists:
    def test_exists_true_needs_a_leaf(self):
        pattern = {"detail": {"c-count": [{"exists": True}]}}
        assert match(pattern, {"detail": {"c-count": 0}})
        assert match(pattern, {"detail": {"c-count": None}}), "null is a value"
        assert not match(pattern, {"detail": {"c-count": {"c1": 100}}}), "objects are not leaves"
        assert not match(pattern, {"detail": {"c-count": []}}), "an empty array has no leaf"
        assert not match(pattern, {"detail": {}})

    def test_exists_false_on_missing_versus_null(self):
        pattern = {"detail": {"c-count": [{"exists": False}]}}
        assert match(pattern, {"detail": {}})
        assert match(pattern, {"other": 1}), "a missing parent means a missing field"
        assert match(pattern, {"detail": {"c-count": {"c1": 100}}}), "an object is not a leaf"
        assert not match(pattern, {"detail": {"c-count": None}}), "null is present"
        assert not match(pattern, {"detail": {"c-count": "x"}})

    def test_exists_false_or_a_value(self):
        pattern = {"s": [{"exists": False}, "x"]}
        assert match(pattern, {})
        assert match(pattern, {"s": "x"})
        assert not match(pattern, {"s": "y"})

    def test_pattern_of_only_absences(self):
        pattern = {"a": [{"exists": False}], "b": [{"exists": False}]}
        assert match(pattern, {"c": 1})
        assert not match(pattern, {"a": 1})


class TestPaths:
    def test_dotted_keys_and_nesting_are_the_same_path(self):
        assert match({"detail": {"state.status": ["running"]}}, {"detail": {"state": {"status": "running"}}})
        assert match({"detail": {"state": {"status": ["running"]}}}, {"detail": {"state.status": "running"}})

    def test_json_strings_are_not_parsed(self):
        assert not match({"detail": {"k": ["v"]}}, {"detail": '{"k": "v"}'})

    def test_a_rewritten_path_keeps_its_last_values(self):
        assert match({"a.b": ["x"], "a": {"b": ["y"]}}, {"a": {"b": "y"}})
        assert not match({"a.b": ["x"], "a": {"b": ["y"]}}, {"a": {"b": "x"}})
