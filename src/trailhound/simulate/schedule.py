"""Benign activity that happens a few times a day, whatever the volume: people and jobs.

Console sessions of the team (each from its own office country), deployments and integration
test runs from CI, the nightly AWS Backup run, application auto scaling, the nightly export of
the analytics archive. These are the management calls that make the quiet rules' background
(and a few alerts by design: an admin listing backups, the first export, a first Scan).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trailhound.simulate import dynamodb_calls as ddb
from trailhound.simulate import other_calls as oc
from trailhound.simulate.records import AWS_INTERNAL, Record, Recorder
from trailhound.simulate.world import (
    ANALYTICS,
    DECOY,
    PROD,
    STAGING,
    TABLES,
    Table,
    principal,
    table,
)

Timed = tuple[int, Record]


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    work_start_utc: float  # hour of day
    work_hours: float
    list_backups: float  # chance per working day of opening the backups page
    browses: tuple[str, ...]  # tables whose items they look at (a console Scan)
    denied: float = 0.0  # chance per working day of trying something they may not do


PEOPLE: tuple[Person, ...] = (
    Person("alice", 8.0, 9.0, 0.7, ("orders", "products")),
    Person("bob", 14.5, 8.5, 0.3, ("customers",)),
    Person("dana", 15.0, 8.0, 0.0, ("feature-flags", "orders-staging"), denied=0.8),
    Person("priya", 3.5, 9.0, 0.0, ("events-archive", "reports")),
    Person("erik", 7.0, 8.5, 0.0, ("reports",)),
)


def _weekday(day_start: int) -> int:
    return (day_start // 86400 + 3) % 7


def day_plan(r: Recorder, day_start: int) -> list[Timed]:
    """Everything scheduled for the day that starts at `day_start` (UTC midnight)."""
    out: list[Timed] = []
    working = _weekday(day_start) < 5
    if working:
        for person in PEOPLE:
            out.extend(_person_day(r, person, day_start))
        for _ in range(2 + r.rng.randrange(3)):
            out.extend(_deploy(r, day_start + r.rng.randrange(14 * 3600, 22 * 3600)))
        for _ in range(1 + r.rng.randrange(2)):
            out.extend(_integration_run(r, day_start + r.rng.randrange(15 * 3600, 21 * 3600)))
    out.extend(_nightly_backup(r, day_start + 3 * 3600))
    out.extend(_autoscaling(r, day_start))
    out.extend(_nightly_export(r, day_start + 4 * 3600 + r.rng.randrange(600)))
    out.extend(_reporting_job(r, day_start + 6 * 3600 + r.rng.randrange(900)))
    return out


def _tables_of(account: str) -> list[Table]:
    return [t for t in TABLES if t.account == account]


def _person_day(r: Recorder, person: Person, day_start: int) -> list[Timed]:
    rng = r.rng
    p = principal(person.key)
    begin = day_start + int(person.work_start_utc * 3600)
    span = int(person.work_hours * 3600)
    out: list[Timed] = []
    for _ in range(1 + rng.randrange(3)):
        out.extend(_console_session(r, person, begin + rng.randrange(span - 3600)))
    if rng.random() < person.list_backups:
        ts = begin + rng.randrange(span - 600)
        out.append((ts, ddb.list_backups(r, p, ts, rng.choice(_tables_of(p.account)))))
    if rng.random() < person.denied:
        ts = begin + rng.randrange(span - 600)
        t = rng.choice(_tables_of(p.account))
        refused = ddb.access_denied(p, "DescribeContinuousBackups", t)
        out.append((ts, ddb.simple_read(r, p, ts, t, "DescribeContinuousBackups", error=refused)))
    return out


def _console_session(r: Recorder, person: Person, start: int) -> list[Timed]:
    """A person clicking through the console: lists, describes, looks at some items."""
    rng = r.rng
    p = principal(person.key)
    tables = _tables_of(p.account)
    browsed = [table(p.account, name) for name in person.browses]
    region = tables[0].region
    agent = p.agents[0]
    ip = rng.choice(p.ips)
    ts = start
    out: list[Timed] = [(ts, ddb.list_tables(r, p, ts, region, ip=ip, agent=agent))]
    reads: list[Callable[[int, Table], Record]] = [
        lambda at, t: ddb.describe_table(r, p, at, t, ip=ip, agent=agent),
        lambda at, t: ddb.simple_read(r, p, at, t, "DescribeContinuousBackups", ip=ip, agent=agent),
        # the console's own backend asks for some details: "AWS Internal", no TLS
        lambda at, t: ddb.simple_read(r, p, at, t, "DescribeTimeToLive", ip=AWS_INTERNAL,
                                      agent=AWS_INTERNAL),
        lambda at, t: ddb.simple_read(r, p, at, t, "ListTagsOfResource", ip=ip, agent=agent),
        lambda at, t: ddb.query(r, p, at, t, ip=ip, agent=agent),
        lambda at, t: ddb.get_item(r, p, at, t, ip=ip, agent=agent),
        lambda at, t: ddb.scan(r, p, at, rng.choice(browsed), ip=ip, agent=agent),
    ]
    others = (oc.EC2_DESCRIBE, oc.CW_ALARMS, oc.IAM_LIST_ROLES, oc.LAMBDA_GET, oc.CFN_DESCRIBE)
    for _ in range(6 + rng.randrange(30)):
        ts += 5 + rng.randrange(90)
        if rng.random() < 0.6:
            read = reads[rng.randrange(len(reads))]
            out.append((ts, read(ts, rng.choice(tables))))
        else:
            op = others[rng.randrange(len(others))]
            out.append((ts, oc.call(r, p, ts, region, op, ip=ip, agent=agent)))
    return out


def _deploy(r: Recorder, start: int) -> list[Timed]:
    """A production deployment from GitHub Actions through CloudFormation."""
    rng = r.rng
    p = principal("ci_prod")
    ip = rng.choice(p.ips)
    ts = start
    out: list[Timed] = []
    steps = (oc.STS_CALLER, oc.S3_PUT_ARTIFACT, oc.CFN_DESCRIBE, oc.CFN_CHANGESET,
             oc.CFN_DESCRIBE, oc.LAMBDA_UPDATE, oc.LAMBDA_GET)
    for op in steps:
        ts += 2 + rng.randrange(20)
        out.append((ts, oc.call(r, p, ts, "us-east-1", op, ip=ip)))
    for t in _tables_of(PROD.id)[:3]:
        ts += 1 + rng.randrange(5)
        out.append((ts, ddb.describe_table(r, p, ts, t, ip=ip)))
    return out


def _integration_run(r: Recorder, start: int) -> list[Timed]:
    """CI in staging: a throwaway table is created, filled, read back, scanned and dropped."""
    rng = r.rng
    p = principal("ci_staging")
    oidc = principal("gh_oidc")
    ip = rng.choice(p.ips)
    run = f"it-{rng.getrandbits(32):08x}"
    t = Table(STAGING.id, "us-east-1", run, ("pk", "sk"))
    ts = start
    out: list[Timed] = [(ts, oc.call(r, oidc, ts, "us-east-1", oc.STS_WEB_IDENTITY, ip=ip))]
    ts += 3
    out.append((ts, ddb.create_table(r, p, ts, t, ip=ip)))
    for _ in range(3):
        ts += 5 + rng.randrange(5)
        out.append((ts, ddb.describe_table(r, p, ts, t, ip=ip)))
    for _ in range(10 + rng.randrange(20)):
        ts += 1 + rng.randrange(3)
        out.append((ts, ddb.put_item(r, p, ts, t, ip=ip)))
    for _ in range(5):
        ts += 1 + rng.randrange(3)
        out.append((ts, ddb.query(r, p, ts, t, ip=ip)))
    for _ in range(2):
        ts += 2 + rng.randrange(3)
        out.append((ts, ddb.scan(r, p, ts, t, ip=ip)))
    ts += 5 + rng.randrange(10)
    out.append((ts, ddb.delete_table(r, p, ts, t, ip=ip)))
    return out


def _reporting_job(r: Recorder, start: int) -> list[Timed]:
    """The legacy reporting user's daily extract: queries by customer, from the data centre."""
    p = principal("reporting")
    out: list[Timed] = []
    ts = start
    for _ in range(20 + r.rng.randrange(30)):
        ts += 1 + r.rng.randrange(4)
        name = "orders" if r.rng.random() < 0.7 else "customers"
        out.append((ts, ddb.query(r, p, ts, table(PROD.id, name))))
    return out


def _nightly_backup(r: Recorder, start: int) -> list[Timed]:
    """AWS Backup's plan: an on-demand backup of every production table, one after another."""
    p = principal("backup")
    out: list[Timed] = []
    ts = start
    for t in (*_tables_of(PROD.id), DECOY):  # AWS Backup backs the decoy up too
        ts += 20 + r.rng.randrange(60)
        out.append((ts, ddb.describe_table(r, p, ts, t)))
        ts += 1
        out.append((ts, ddb.create_backup(r, p, ts, t)))
    return out


def _autoscaling(r: Recorder, day_start: int) -> list[Timed]:
    """Application Auto Scaling raises capacity in the morning and lowers it at night."""
    p = principal("autoscaling")
    out: list[Timed] = []
    for name, (low, high) in (("products", (50, 400)), ("ledger", (20, 150))):
        t = table(PROD.id, name)
        for hour, capacity in ((12, high), (23, low)):
            ts = day_start + hour * 3600 + r.rng.randrange(1800)
            out.append((ts, ddb.describe_table(r, p, ts, t)))
            change = ddb.throughput(capacity, capacity)
            out.append((ts + 1, ddb.update_table(r, p, ts + 1, t, change)))
    return out


def _nightly_export(r: Recorder, ts: int) -> list[Timed]:
    """The analytics archive exported to the team's own bucket for Athena."""
    p = principal("etl")
    t = table(ANALYTICS.id, "events-archive")
    return [(ts, ddb.export_table(r, p, ts, t, f"acme-analytics-exports-{ANALYTICS.id}", None))]

