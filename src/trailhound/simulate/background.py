"""Steady benign traffic: workloads that call AWS all day, whose volume scales with `--events`.

A `Workload` is one principal in one region with a share of the steady volume, a daily shape
and a mix of calls. Rare and human activity (console sessions, deployments, nightly jobs) does
not scale with volume and lives in `schedule.py`.
"""

from __future__ import annotations

import math
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import accumulate

from trailhound.simulate import dynamodb_calls as ddb
from trailhound.simulate import other_calls as oc
from trailhound.simulate.records import Record, Recorder
from trailhound.simulate.world import ANALYTICS, PROD, STAGING, Principal, principal, table

Action = Callable[[Recorder, Principal, int], Record]
Profile = Callable[[int], float]  # seconds since the epoch -> relative activity


def flat(t: int) -> float:
    """Customer-facing load: a day/night swing peaking mid-afternoon UTC."""
    hour = (t % 86400) / 3600
    return 1.0 + 0.5 * math.sin((hour - 9) / 24 * 2 * math.pi)


def nightly(t: int) -> float:
    """Batch jobs between 01:00 and 06:00 UTC, a trickle otherwise."""
    hour = (t % 86400) // 3600
    return 1.0 if 1 <= hour < 6 else 0.05


def weekday_hours(t: int) -> float:
    """Staging: busy while the US teams work, quiet at night and at weekends."""
    weekday = (t // 86400 + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
    hour = (t % 86400) // 3600
    if weekday >= 5:
        return 0.1
    return 1.0 if 13 <= hour < 23 else 0.2


@dataclass(frozen=True, slots=True)
class Workload:
    principal: Principal
    region: str
    share: float
    profile: Profile
    actions: tuple[Action, ...]
    cumulative: tuple[float, ...]

    def pick(self, u: float) -> Action:
        return self.actions[bisect(self.cumulative, u * self.cumulative[-1])]


def _workload(key: str, region: str, share: float, profile: Profile,
              mix: list[tuple[float, Action]]) -> Workload:
    weights = [w for w, _ in mix]
    return Workload(principal(key), region, share, profile, tuple(a for _, a in mix),
                    tuple(accumulate(weights)))


def _ddb(fn: Callable[..., Record], account: str, name: str, *args: object) -> Action:
    return partial(_call_ddb, fn, table(account, name), args)


def _call_ddb(fn: Callable[..., Record], t: object, args: tuple[object, ...], r: Recorder,
              p: Principal, ts: int) -> Record:
    return fn(r, p, ts, t, *args)


def _other(op: oc.Op, region: str) -> Action:
    return lambda r, p, ts: oc.call(r, p, ts, region, op)


def _list_tables(region: str) -> Action:
    return lambda r, p, ts: ddb.list_tables(r, p, ts, region)


def workloads() -> tuple[Workload, ...]:
    P, S, A = PROD.id, STAGING.id, ANALYTICS.id
    east, eu, west = "us-east-1", "eu-west-1", "us-west-2"
    return (
        _workload("orders_api", east, 0.07, flat, [
            (30, _ddb(ddb.get_item, P, "orders")),
            (20, _ddb(ddb.query, P, "orders")),
            (15, _ddb(ddb.put_item, P, "orders")),
            (15, _ddb(ddb.update_item, P, "orders")),
            (5, _ddb(ddb.transact_write, P, "order-items", ("Put", "Put", "Update"))),
            (10, _ddb(ddb.get_item, P, "customers")),
            (5, _ddb(ddb.batch_get, P, "products")),
        ]),
        _workload("payments", eu, 0.045, flat, [
            (35, _ddb(ddb.get_item, P, "payments")),
            (20, _ddb(ddb.put_item, P, "payments")),
            (15, _ddb(ddb.update_item, P, "payments")),
            (20, _ddb(ddb.query, P, "ledger")),
            (5, _ddb(ddb.partiql, P, "ledger", "INSERT")),
            (5, _other(oc.KMS_DECRYPT, eu)),
        ]),
        _workload("reaper", east, 0.012, flat, [
            (30, _ddb(ddb.query, P, "sessions")),
            (50, _ddb(ddb.delete_item, P, "sessions")),
            (20, _ddb(ddb.batch_write, P, "sessions", "Delete", 25)),
        ]),
        _workload("inventory", east, 0.015, flat, [
            (40, _ddb(ddb.scan, P, "products")),
            (30, _ddb(ddb.batch_write, P, "products", "Put", 10)),
            (30, _ddb(ddb.get_item, P, "products")),
        ]),
        _workload("web", east, 0.22, flat, [
            (20, _ddb(ddb.get_item, P, "sessions")),
            (5, _ddb(ddb.put_item, P, "sessions")),
            (35, _other(oc.S3_GET_ASSETS, east)),
            (5, _other(oc.S3_PUT_UPLOADS, east)),
            (10, _other(oc.SSM_PARAM, east)),
            (5, _other(oc.SECRET_VALUE, east)),
            (10, _other(oc.KMS_DECRYPT, east)),
            (10, _other(oc.STS_CALLER, east)),
        ]),
        _workload("eks", east, 0.20, flat, [
            (10, _other(oc.ECR_TOKEN, east)),
            (15, _other(oc.ECR_IMAGE, east)),
            (25, _other(oc.EC2_DESCRIBE, east)),
            (25, _other(oc.EC2_ENI, east)),
            (15, _other(oc.EC2_ASSIGN_IP, east)),
            (10, _other(oc.LOGS_STREAM, east)),
        ]),
        _workload("datadog", east, 0.06, flat, [
            (10, _list_tables(east)),
            (20, _ddb(ddb.describe_table, P, "orders")),
            (20, _other(oc.CW_ALARMS, east)),
            (20, _other(oc.TAG_RESOURCES, east)),
            (20, _other(oc.EC2_DESCRIBE, east)),
            (10, _other(oc.LAMBDA_GET, east)),
        ]),
        _workload("ddb_kms", east, 0.05, flat, [
            (60, _other(oc.KMS_DDB, east)),
            (40, _other(oc.KMS_DDB_GENERATE, east)),
        ]),
        _workload("config", east, 0.03, flat, [
            (10, _ddb(ddb.describe_table, P, "customers")),
            (30, _other(oc.EC2_DESCRIBE, east)),
            (20, _other(oc.IAM_GET_ROLE, east)),
            (40, _other(oc.CONFIG_PUT, east)),
        ]),
        _workload("staging_app", east, 0.05, weekday_hours, [
            (15, _ddb(ddb.get_item, S, "orders-staging")),
            (10, _ddb(ddb.put_item, S, "orders-staging")),
            (10, _ddb(ddb.query, S, "orders-staging")),
            (5, _ddb(ddb.delete_item, S, "customers-staging")),
            (15, _ddb(ddb.get_item, S, "feature-flags")),
            (20, _other(oc.S3_GET_ASSETS, east)),
            (15, _other(oc.SSM_PARAM, east)),
            (10, _other(oc.KMS_DECRYPT, east)),
        ]),
        _workload("etl", west, 0.06, nightly, [
            (20, _ddb(ddb.scan, A, "events-archive")),
            (15, _ddb(ddb.batch_write, A, "daily-aggregates", "Put", 25)),
            (10, _ddb(ddb.query, A, "events-archive")),
            (35, _other(oc.S3_GET_LAKE, west)),
            (10, _other(oc.GLUE_TABLE, west)),
            (10, _other(oc.GLUE_PARTITIONS, west)),
        ]),
        _workload("firehose", west, 0.06, flat, [(100, _other(oc.S3_PUT_LAKE, west))]),
        _workload("ddb_kms_an", west, 0.01, nightly, [(100, _other(oc.KMS_DDB, west))]),
        _workload("trail", "us-east-1", 0.04, flat, [(100, _other(oc.S3_PUT_TRAIL, east))]),
        _workload("auditor", "us-east-1", 0.03, flat, [
            (30, _other(oc.GUARDDUTY_LIST, east)),
            (30, _other(oc.SECURITYHUB_GET, east)),
            (20, _other(oc.IAM_LIST_ROLES, east)),
            (20, _other(oc.STS_CALLER, east)),
        ]),
    )


class SteadyTraffic:
    """Spreads `total` events over the slots of the run by each workload's share and shape."""

    def __init__(self, total: int, start: int, slots: int, slot_seconds: int) -> None:
        self.loads = workloads()
        self.slot_seconds = slot_seconds
        shares = sum(w.share for w in self.loads)
        self._expected: list[list[float]] = []
        for w in self.loads:
            shape = [w.profile(start + k * slot_seconds + slot_seconds // 2) for k in range(slots)]
            scale = total * (w.share / shares) / sum(shape)
            self._expected.append([s * scale for s in shape])

    def events(self, r: Recorder, slot: int, t0: int, out: list[tuple[int, Record]]) -> None:
        rng = r.rng
        random = rng.random
        width = self.slot_seconds
        for w, expected in zip(self.loads, self._expected, strict=True):
            mean = expected[slot]
            n = int(mean)
            if random() < mean - n:
                n += 1
            p = w.principal
            for _ in range(n):
                ts = t0 + int(random() * width)
                out.append((ts, w.pick(random())(r, p, ts)))
