"""Rotation through the rotation function's four steps, and the timers of a secret's life.

A rotation (RotateSecret, or a secret's schedule coming due) first adds a value-less version
labelled AWSPENDING under the rotation's token, then invokes the rotation function with
``{"Step", "SecretId", "ClientRequestToken", "RotationToken"}`` for ``createSecret``,
``setSecret``, ``testSecret`` and ``finishSecret`` in turn, synchronously, as AWS does. The
function does the work through the Secrets Manager API (``PutSecretValue`` with AWSPENDING,
``UpdateSecretVersionStage`` moving AWSCURRENT). A failed step stops the rotation and leaves the
AWSPENDING version for the next attempt to finish; a finished rotation drops the AWSPENDING label.

Schedules (``RotationRules``: ``AutomaticallyAfterDays`` or ``ScheduleExpression`` with
``rate()``/``cron()``) and deletion windows run on the schedule clock (``schedule_clock_speed``),
so tests see days pass in seconds.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.schedules import Rate, ScheduleClock, ScheduleError, next_fire, parse_expression
from cumulo.schedules.runner import ScheduleRunner
from cumulo.services.secretsmanager.secrets import CURRENT, PENDING, SECRETS, SecretStore, move_stage, version_with

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.secretsmanager")
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
DAY = 86400.0


def check_rules(rules: dict[str, Any]) -> None:
    """AWS's checks of RotationRules."""
    days, expression = rules.get("AutomaticallyAfterDays"), rules.get("ScheduleExpression")
    if days is not None and expression is not None:
        raise AwsError("InvalidParameterException",
                       "You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
    if days is None and expression is None:
        raise AwsError("InvalidParameterException",
                       "You must specify either AutomaticallyAfterDays or ScheduleExpression.")
    if days is not None and not 1 <= days <= 1000:
        raise AwsError("InvalidParameterException", "AutomaticallyAfterDays must be between 1 and 1000.")
    if expression is not None:
        try:
            parsed = parse_expression(expression)
        except ScheduleError as exc:
            raise AwsError("InvalidParameterException", f"Invalid ScheduleExpression: {exc}") from exc
        if isinstance(parsed, Rate) and parsed.seconds < 4 * 3600:
            raise AwsError("InvalidParameterException",
                           "The schedule expression must not rotate more often than every four hours.")


class Rotations:
    """Runs rotations and purges deleted secrets on time."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.clock = ScheduleClock(float(getattr(platform.settings, "schedule_clock_speed", 1.0)))
        self.runner = ScheduleRunner(self._fire, name="secretsmanager")
        # Secrets whose rotation runs now: a schedule coming due meanwhile does not start another.
        self._running: set[tuple[str, str, str]] = set()

    async def start(self) -> None:
        for key, record in self.platform.store.scan(SECRETS):
            account, region, _ = key.split(":", 2)
            self.plan(account, region, record)
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()

    # ------------------------------------------------------------ timers
    def schedule_next(self, record: dict[str, Any], after: float | None = None) -> None:
        """Set the secret's next rotation time (schedule-clock time) from its rules."""
        rules = record.get("RotationRules")
        if not record.get("RotationEnabled") or not rules:
            record.pop("_rotate_at", None)
            record.pop("NextRotationDate", None)
            return
        origin = record.setdefault("_origin", time.time())
        now = self.clock.now(origin) if after is None else after
        if rules.get("AutomaticallyAfterDays") is not None:
            moment = now + rules["AutomaticallyAfterDays"] * DAY
        else:
            moment = next_fire(parse_expression(rules["ScheduleExpression"]), now)
        record["_rotate_at"] = moment
        record["NextRotationDate"] = moment

    def plan(self, account: str, region: str, record: dict[str, Any]) -> None:
        origin = record.get("_origin", time.time())
        name = record["Name"]
        purge = record.get("_purge_at")
        self.runner.plan((account, region, name, "purge"),
                         self.clock.real(origin, purge) if purge is not None else None)
        rotate = record.get("_rotate_at") if purge is None else None
        self.runner.plan((account, region, name, "rotate"),
                         self.clock.real(origin, rotate) if rotate is not None else None)

    async def _fire(self, key: Any) -> float | None:
        account, region, name, kind = key
        secrets = SecretStore(self.platform.store, account, region)
        record = secrets.find(name)
        if record is None:
            return None
        if kind == "purge":
            if record.get("_purge_at") is not None and self.clock.now(record["_origin"]) >= record["_purge_at"]:
                secrets.remove(name)
            return None
        if record.get("_rotate_at") is None or record.get("DeletedDate") is not None:
            return None
        # after a stop longer than the period, one rotation now and the schedule continues from now
        self.schedule_next(record, after=max(record["_rotate_at"], self.clock.now(record["_origin"])))
        secrets.save(record)
        self.platform.spawn(self.rotate(account, region, name, str(uuid.uuid4())), name=f"rotate {name}")
        return self.clock.real(record["_origin"], record["_rotate_at"])

    # ------------------------------------------------------------ rotating
    def running(self, account: str, region: str, name: str) -> bool:
        return (account, region, name) in self._running

    def begin(self, secrets: SecretStore, record: dict[str, Any], token: str) -> str:
        """Add the AWSPENDING version of a rotation (or resume the unfinished one); its token."""
        pending = version_with(record, PENDING)
        if pending is not None and PENDING in record["Versions"][pending]["Stages"] and \
                CURRENT not in record["Versions"][pending]["Stages"]:
            return pending
        record["Versions"][token] = {"CreatedDate": time.time(), "Stages": []}
        move_stage(record, PENDING, token)
        secrets.save(record)
        return token

    async def rotate(self, account: str, region: str, name: str, token: str) -> None:
        """Run the four steps; record the outcome on the secret."""
        key = (account, region, name)
        if key in self._running:
            return
        self._running.add(key)
        try:
            await self._rotate(account, region, name, token)
        finally:
            self._running.discard(key)

    async def _rotate(self, account: str, region: str, name: str, token: str) -> None:
        secrets = SecretStore(self.platform.store, account, region)
        record = secrets.find(name)
        if record is None or not record.get("RotationLambdaARN"):
            return
        token = self.begin(secrets, record, token)
        function = record["RotationLambdaARN"]
        for step in STEPS:
            payload = json.dumps({"Step": step, "SecretId": record["ARN"], "ClientRequestToken": token,
                                  "RotationToken": str(uuid.uuid4())}).encode()
            try:
                result = await self.platform.functions.invoke_function(function, payload, account=account,
                                                                       region=region)
            except AwsError as exc:
                log.warning("rotation of %s: %s failed: %s", name, step, exc)
                return
            if result.get("FunctionError"):
                log.warning("rotation of %s: %s failed: %s", name, step, result.get("Payload", b"")[:500])
                return
        record = secrets.find(name)
        if record is None:
            return
        version = record["Versions"].get(token)
        if version is not None and CURRENT in version["Stages"] and PENDING in version["Stages"]:
            version["Stages"].remove(PENDING)
        record["LastRotatedDate"] = time.time()
        secrets.save(record)
