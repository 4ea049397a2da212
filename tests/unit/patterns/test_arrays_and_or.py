"""Arrays (any element matches, array consistency) and $or."""

from __future__ import annotations

from ._support import match

EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}


class TestArrays:
    def test_event_array_matches_if_any_element_matches(self):
        pattern = {"resources": ["arn:b", "arn:z"]}
        assert match(pattern, {"resources": ["arn:a", "arn:b"]})
        assert not match(pattern, {"resources": ["arn:a", "arn:c"]})
        assert not match(pattern, {"resources": []})

    def test_nested_arrays_are_flattened(self):
        assert match({"v": [3]}, {"v": [[1, 2], [3]]})

    def test_objects_inside_arrays(self):
        assert match({"employees": {"firstName": ["Anna"]}}, EMPLOYEES)

    def test_fields_must_come_from_the_same_element(self):
        assert match({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, EMPLOYEES)
        assert not match({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, EMPLOYEES)

    def test_consistency_across_nested_arrays(self):
        event = {"a": [[{"x": 1, "y": 1}], [{"x": 2, "y": 2}]]}
        assert match({"a": {"x": [1], "y": [1]}}, event)
        assert not match({"a": {"x": [1], "y": [2]}}, event)

    def test_consistency_at_depth(self):
        event = {"orders": [{"id": "o1", "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]},
                            {"id": "o2", "items": [{"sku": "A", "qty": 9}]}]}  # fmt: skip
        pattern = {"orders": {"id": ["o1"], "items": {"sku": ["A"], "qty": [{"numeric": [">", 4]}]}}}
        assert not match(pattern, event), "o1's A has qty 1; the qty 9 belongs to o2"
        pattern["orders"]["items"]["sku"] = ["B"]
        assert match(pattern, event)

    def test_fields_outside_the_array_combine_with_any_element(self):
        pattern = {"source": ["s"], "employees": {"lastName": ["Jones"]}}
        assert match(pattern, {"source": "s", **EMPLOYEES})

    def test_exists_inside_array_of_objects(self):
        event = {"detail": {"automations": [{"key1": "v"}, {"id": "x"}, {"key2": "v"}]}}
        assert match({"detail": {"automations": {"id": [{"exists": True}]}}}, event)
        assert not match({"detail": {"automations": {"id": [{"exists": False}]}}}, event)

    def test_mixed_array_of_scalars_and_objects(self):
        event = {"a": [{"b": 1}, 5]}
        assert match({"a": [5]}, event)
        assert match({"a": {"b": [1]}}, event)


class TestOr:
    def test_top_level_or(self):
        pattern = {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}
        assert match(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/EC2"})
        assert match(pattern, {"source": "aws.cloudwatch", "metricName": "CPU"})
        assert not match(pattern, {"source": "aws.cloudwatch", "metricName": "Mem"})
        assert not match(pattern, {"source": "other", "metricName": "CPU"})

    def test_or_inside_an_object_keeps_its_path(self):
        pattern = {
            "detail": {
                "$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}]
            }
        }
        assert match(pattern, {"detail": {"c-count": 3}})
        assert match(pattern, {"detail": {"d-count": 9}})
        assert not match(pattern, {"detail": {"c-count": 0, "d-count": 10}})
        assert not match(pattern, {"c-count": 3})

    def test_or_with_an_and_branch(self):
        pattern = {"$or": [{"a": ["1"]}, {"b": ["2"], "c": ["3"]}]}
        assert match(pattern, {"b": "2", "c": "3"})
        assert not match(pattern, {"b": "2"})

    def test_nested_or(self):
        pattern = {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPU"]},
                {"namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
            ],
        }
        assert match(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1000})
        assert not match(pattern, {"source": "aws.cloudwatch", "namespace": "AWS/EC2"})

    def test_parallel_ors_multiply(self):
        pattern = {"$or": [{"a": ["1"]}, {"b": ["1"]}], "x": {"$or": [{"c": ["1"]}, {"d": ["1"]}]}}
        assert match(pattern, {"b": "1", "x": {"c": "1"}})
        assert not match(pattern, {"b": "1", "x": {"e": "1"}})

    def test_or_with_exists_false_branch(self):
        pattern = {"$or": [{"a": [{"exists": False}]}, {"b": ["1"]}]}
        assert match(pattern, {})
        assert match(pattern, {"a": 1, "b": "1"})
        assert not match(pattern, {"a": 1})
