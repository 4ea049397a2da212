"""Amazon CloudWatch metrics: PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics.

Users put their own metrics; the platform's services put theirs (``AWS/Lambda``,
``AWS/Events``, ...) through ``put``, which batches writes like the log pipeline does. Raw
samples are kept and aggregated at read time, so any period and statistic can be asked for
(including percentiles of raw values). Alarms and dashboards are stored, not evaluated (``alarms``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.protocol.values import as_datetime
from cumulo.services.base import Provider, RequestContext
from cumulo.services.cloudwatch.alarms import AlarmsAndDashboards
from cumulo.services.cloudwatch.statistics import STANDARD, bucketize, is_known_statistic
from cumulo.services.pagination import decode_token, take_page
from cumulo.store.batching import BatchedWriter

if TYPE_CHECKING:
    from cumulo.platform import Platform

SAMPLES, METRICS = "cloudwatch.samples", "cloudwatch.metrics"
MAX_DATAPOINTS = 1440
MAX_DIMENSIONS = 30
FUTURE_LIMIT_S = 2 * 3600
PAST_LIMIT_S = 14 * 86400
RECENTLY_ACTIVE_S = 3 * 3600
FLUSH_AFTER_S = 0.25
FLUSH_AT_SAMPLES = 5000


# (account, region, namespace, metric name, dimensions, sample)
Sample = tuple[str, str, str, str, list[dict[str, str]], dict[str, Any]]


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message)


def dimension_key(dimensions: list[dict[str, str]] | dict[str, str]) -> str:
    pairs = dimensions.items() if isinstance(dimensions, dict) else ((d["Name"], d["Value"]) for d in dimensions)
    return "\x01".join(f"{name}={value}" for name, value in sorted(pairs))


class CloudWatchProvider(AlarmsAndDashboards, Provider):
    service = "cloudwatch"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._sequence = 0
        self._pending: BatchedWriter[Sample] = BatchedWriter(self._write_batch, FLUSH_AFTER_S, FLUSH_AT_SAMPLES)

    async def stop(self) -> None:
        self._pending.flush()

    def handler(self, operation_name: str) -> Any:
        self._pending.flush()  # readers see every sample put before their call
        return super().handler(operation_name)

    # ------------------------------------------------------------ writing
    def put(self, account: str, region: str, namespace: str, name: str, value: float,
            dimensions: dict[str, str] | None = None, unit: str = "Count", timestamp: float | None = None,
            count: float = 1.0) -> None:
        """Record one value (``count`` times) of a platform metric (written within ``FLUSH_AFTER_S``)."""
        dims = [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()]
        sample = {"t": timestamp or time.time(), "v": float(value), "u": unit}
        if count != 1.0:
            sample["c"] = count
        self._pending.add((account, region, namespace, name, dims, sample))

    def _write_batch(self, samples: list[Sample]) -> None:
        with self.platform.store.transaction():
            self._write(samples)

    def _write(self, samples: list[Sample]) -> None:
        store = self.platform.store
        rows = []
        latest: dict[str, tuple[dict[str, Any], float]] = {}
        for account, region, namespace, name, dims, sample in samples:
            metric_key = f"{account}:{region}:{namespace}\x00{name}\x00{dimension_key(dims)}"
            self._sequence += 1
            rows.append((f"{metric_key}\x00{int(sample['t'] * 1000):015d}{self._sequence:09d}", sample))
            known = latest.get(metric_key)
            if known is None or sample["t"] > known[1]:
                latest[metric_key] = ({"Namespace": namespace, "MetricName": name, "Dimensions": dims}, sample["t"])
        store.put_many(SAMPLES, rows)
        for key, (metric, when) in latest.items():
            existing = store.get(METRICS, key)
            if existing is None or existing.get("last", 0) < when:
                store.put(METRICS, key, {**metric, "last": when})

    def put_metric_data(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params["Namespace"]
        if namespace.startswith("AWS/"):
            raise _invalid(f"The value {namespace} for parameter Namespace is invalid.")
        data = params.get("MetricData") or []
        if len(data) > 1000:
            raise _invalid("The collection MetricData must not have a size greater than 1000.")
        now = time.time()
        samples = []
        for index, datum in enumerate(data, start=1):
            where = f"MetricData.member.{index}"
            dims = datum.get("Dimensions") or []
            if len(dims) > MAX_DIMENSIONS:
                raise _invalid(f"The collection {where}.Dimensions must not have a size greater than {MAX_DIMENSIONS}.")
            when = as_datetime(datum["Timestamp"]).timestamp() if datum.get("Timestamp") else now
            if when > now + FUTURE_LIMIT_S:
                raise _invalid(f"The parameter {where}.Timestamp must specify a time no more than two hours in "
                               "the future.")
            if when < now - PAST_LIMIT_S:
                raise _invalid(f"The parameter {where}.Timestamp must specify a time within the past two weeks.")
            unit = datum.get("Unit") or "None"
            kinds = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
            if len(kinds) > 1:
                raise AwsError("InvalidParameterCombination",
                               f"The parameters {where}.{kinds[0]} and {where}.{kinds[1]} are mutually exclusive "
                               "and you have specified both.")
            if not kinds:
                raise AwsError("MissingParameter", f"At least one of the parameters {where}.Value, "
                               f"{where}.StatisticValues or {where}.Values must be specified.")
            base = (context.account_id, context.region, namespace, datum["MetricName"], dims)
            if "Value" in kinds:
                samples.append((*base, {"t": when, "v": _finite(datum["Value"], f"{where}.Value"), "u": unit}))
            elif "StatisticValues" in kinds:
                stats = datum["StatisticValues"]
                values = [_finite(stats[k], f"{where}.StatisticValues.{k}")
                          for k in ("SampleCount", "Sum", "Minimum", "Maximum")]
                samples.append((*base, {"t": when, "set": values, "u": unit}))
            else:
                values = datum["Values"]
                counts = datum.get("Counts") or [1.0] * len(values)
                if len(counts) != len(values):
                    raise _invalid(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
                for value, count in zip(values, counts, strict=True):
                    samples.append((*base, {"t": when, "v": _finite(value, f"{where}.Values"), "c": count, "u": unit}))
        with self.platform.store.transaction():
            self._write(samples)
        return {}

    # ------------------------------------------------------------ reading
    def _samples(self, account: str, region: str, namespace: str, name: str, dims: list[dict[str, str]],
                 start: float, end: float) -> list[dict[str, Any]]:
        prefix = f"{account}:{region}:{namespace}\x00{name}\x00{dimension_key(dims)}\x00"
        low = prefix + f"{max(0, int(start * 1000) - 1):015d}"
        high = prefix + f"{int(end * 1000) + 1:015d}"
        return [value for _, value in self.platform.store.scan(SAMPLES, prefix, start_after=low, end_before=high)]

    @staticmethod
    def _check_period(period: int) -> None:
        if period not in (1, 5, 10, 30) and period % 60:
            raise _invalid("The parameter Period must be a multiple of 60.")

    def get_metric_statistics(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        statistics = params.get("Statistics") or []
        extended = params.get("ExtendedStatistics") or []
        if not statistics and not extended:
            raise AwsError("MissingParameter", "Must specify either Statistics or ExtendedStatistics")
        if statistics and extended:
            raise AwsError("InvalidParameterCombination",
                           "Statistics and ExtendedStatistics must not be specified together.")
        for name in extended:
            if not is_known_statistic(name) or name in STANDARD:
                raise _invalid(f"The value {name} for parameter ExtendedStatistics is not supported.")
        start = as_datetime(params["StartTime"]).timestamp()
        end = as_datetime(params["EndTime"]).timestamp()
        period = params["Period"]
        self._check_period(period)
        if end <= start:
            raise _invalid("The parameter StartTime must be less than the parameter EndTime.")
        requested = math.ceil((end - start) / period)
        if requested > MAX_DATAPOINTS:
            raise AwsError("InvalidParameterCombination", f"You have requested up to {requested:,} datapoints, which "
                           f"exceeds the limit of {MAX_DATAPOINTS:,}. You may reduce the datapoints requested by "
                           "increasing Period, or decreasing the time range.")
        samples = self._samples(context.account_id, context.region, params["Namespace"], params["MetricName"],
                                params.get("Dimensions") or [], start, end)
        if params.get("Unit"):
            samples = [s for s in samples if s.get("u") == params["Unit"]]
        datapoints = []
        for slot, bucket in sorted(bucketize(samples, start, end, period).items()):
            point: dict[str, Any] = {"Timestamp": slot, "Unit": samples[0].get("u", "None") if samples else "None"}
            for name in statistics:
                point[name] = bucket.statistic(name)
            if extended:
                point["ExtendedStatistics"] = {
                    name: value for name in extended if (value := bucket.statistic(name)) is not None}
            datapoints.append(point)
        return {"Label": params["MetricName"], "Datapoints": datapoints}

    def get_metric_data(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        start = as_datetime(params["StartTime"]).timestamp()
        end = as_datetime(params["EndTime"]).timestamp()
        if end <= start:
            raise AwsError("ValidationError", "The parameter StartTime must be less than the parameter EndTime.")
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for query in params["MetricDataQueries"]:
            if query.get("Expression"):
                raise AwsError("ValidationError", f"Query {query['Id']}: metric math expressions are not supported "
                               "by Cumulo; use MetricStat queries.")
            stat = query.get("MetricStat")
            if not stat:
                raise AwsError("ValidationError", f"Query {query['Id']} must have a MetricStat or an Expression.")
            if not is_known_statistic(stat["Stat"]):
                raise AwsError("ValidationError", f"The value {stat['Stat']} for parameter Stat is not supported.")
            self._check_period(stat["Period"])
            metric = stat["Metric"]
            samples = self._samples(context.account_id, context.region, metric["Namespace"], metric["MetricName"],
                                    metric.get("Dimensions") or [], start, end)
            if stat.get("Unit"):
                samples = [s for s in samples if s.get("u") == stat["Unit"]]
            points = [(slot, bucket.statistic(stat["Stat"]))
                      for slot, bucket in bucketize(samples, start, end, stat["Period"]).items()]
            points = sorted((p for p in points if p[1] is not None), reverse=descending)
            if query.get("ReturnData", True):
                results.append({"Id": query["Id"], "Label": query.get("Label") or metric["MetricName"],
                                "Timestamps": [p[0] for p in points], "Values": [p[1] for p in points],
                                "StatusCode": "Complete"})
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = f"{context.account_id}:{context.region}:"
        prefix = scope + (params["Namespace"] + "\x00" if params.get("Namespace") else "")
        if params.get("Namespace") and params.get("MetricName"):
            prefix += params["MetricName"] + "\x00"
        wanted = params.get("Dimensions") or []
        recent = time.time() - RECENTLY_ACTIVE_S if params.get("RecentlyActive") == "PT3H" else None
        after = decode_token(params.get("NextToken"), "cloudwatch-metrics", "InvalidNextToken", "Invalid NextToken")

        def matching() -> Iterator[tuple[str, dict[str, Any]]]:
            for key, metric in self.platform.store.scan(METRICS, prefix, start_after=after):
                if params.get("MetricName") and metric["MetricName"] != params["MetricName"]:
                    continue
                if recent is not None and metric.get("last", 0) < recent:
                    continue
                have = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                if any(d["Name"] not in have or ("Value" in d and have[d["Name"]] != d["Value"]) for d in wanted):
                    continue
                yield key, {k: metric[k] for k in ("Namespace", "MetricName", "Dimensions")}

        metrics, next_token = take_page(matching(), 500, "cloudwatch-metrics")
        return {"Metrics": metrics, "NextToken": next_token}


def _finite(value: float, where: str) -> float:
    if not math.isfinite(value) or abs(value) > 2 ** 360 or (value and abs(value) < 2 ** -260):
        raise _invalid(f"The value {value} for parameter {where} is invalid.")
    return float(value)
