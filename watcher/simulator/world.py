"""The simulated world: workflows and runs, vendor-neutral, on an injectable clock.

A run's ``status`` is the vendor's own raw string (each vendor module knows
its vocabulary); the world only stores, orders and changes runs, and keeps a
log of every status change it made so tests can check that watcher saw
each one.

A run can be made *hostile* (:meth:`World.override`, or ``overrides=`` and
friends on :meth:`World.add_run`): wherever its vendor serves it, in listings
and single-run GETs, its item gets fields replaced by any JSON, fields
dropped, or is replaced whole by something that is not an object.  The run
keeps its place in listings and its real status changes, so a test can check
what watcher makes of a vendor sending nonsense about a real run.
"""

from __future__ import annotations

import itertools
import random
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from watcher.core.timestamps import format_ts
from watcher.infra.clock import Clock
from watcher.simulator.accounts import MAIN, Account
from watcher.simulator.faults import Faults

VENDORS = ("extend", "noxus", "cortex", "knock", "github", "gitlab", "airflow", "prefect")

DEFAULT_TOKENS = {
    "extend": "sim-extend-key",
    "noxus": "sim-noxus-key",
    "cortex": "sim-cortex-key",
    "knock": "sk_test_sim_knock_key",
    "github": "ghp_simGithubToken0000000000000000000000", "gitlab": "glpat-sim-gitlab-token",
    #: Airflow: the password of user ``admin`` (and a bearer token the API takes as it is)
    "airflow": "sim-airflow-password",
    "prefect": "pnu_sim_prefect_key",
}

#: vendors whose run and workflow ids are serial numbers, from these
SERIAL_IDS = {"github": (9_000_000_000, 1_900_000), "gitlab": (880_000_000, 0)}


@dataclass
class Workflow:
    vendor: str
    id: str
    name: str
    #: Knock identifies workflows by key, Cortex by id within an app
    key: str = ""


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: "no replacement" for :attr:`Hostile.replace` (``None`` replaces the item with null)
KEEP: Any = _Keep()


@dataclass
class Hostile:
    """How one run's item is mangled wherever the simulator serves it."""

    #: fields set to these values (any JSON, null included)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: fields left out
    drop: tuple[str, ...] = ()
    #: the whole item replaced by this (e.g. a string), unless :data:`KEEP`
    replace: Any = KEEP

    def apply(self, item: Any) -> Any:
        if self.replace is not KEEP:
            return self.replace
        out = {k: v for k, v in item.items() if k not in self.drop}
        out.update(self.overrides)
        return out


@dataclass(eq=False, slots=True, kw_only=True)
class SimRun:
    id: str
    #: the vendor account it belongs to (only that account's key sees it)
    account: Account
    vendor: str
    workflow: Workflow
    status: str
    created: float
    updated: float
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    error_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    hostile: Hostile | None = None

    def __repr__(self) -> str:
        return f"SimRun({self.vendor}:{self.id} {self.status})"


@dataclass
class Request:
    vendor: str
    method: str
    path: str
    query: str
    time: float
    status: int = 0
    #: real monotonic time it arrived, to measure gaps when the world clock is frozen
    mono: float = field(default_factory=monotonic)
    #: the client's User-Agent (which replica polled)
    agent: str = ""
    #: the name of the account whose key it carried ("" when none matched)
    account: str = ""


@dataclass
class Transition:
    """A status change the world made: what watcher must report."""

    vendor: str
    run_id: str
    previous: str | None
    status: str
    time: float


class World:
    def __init__(self, *, clock: Clock, seed: int = 0) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.tokens = dict(DEFAULT_TOKENS)
        #: every account's runs, per vendor
        self.runs: dict[str, dict[str, SimRun]] = {v: {} for v in VENDORS}
        #: each vendor's main account (its key: ``tokens[vendor]``) and the others by key
        self.main = {v: Account(v, MAIN, self.tokens.get(v, "")) for v in VENDORS}
        self.accounts: dict[str, dict[str, Account]] = {v: {} for v in VENDORS}
        self.workflows: dict[str, list[Workflow]] = {v: [] for v in VENDORS}
        self.faults = Faults()
        self.requests: list[Request] = []
        self.transitions: list[Transition] = []
        #: per-vendor request budget (requests/second) the simulator enforces with 429s,
        #: on each account apart (an account's own ``rate_limit`` overrides it)
        self.rate_limits: dict[str, float] = {}
        self.listeners: list[Callable[[SimRun], None]] = []
        self._serial = itertools.count(1)

    # -- building --------------------------------------------------------------------

    def add_account(self, vendor: str, *, name: str | None = None,
                    rate_limit: float | None = None) -> Account:
        """Another customer of ``vendor``: its own key, runs and rate limit."""
        n = len(self.accounts[vendor]) + 1
        token = f"{self.tokens[vendor]}-{n}-{self._token(12)}"
        acct = Account(vendor, name or f"account-{n}", token, rate_limit=rate_limit)
        self.accounts[vendor][token] = acct
        return acct

    def account(self, vendor: str, token: str) -> Account | None:
        """The account ``token`` is the key of, or None."""
        if token and token == self.tokens.get(vendor):
            return self.main[vendor]
        return self.accounts[vendor].get(token)

    def workflow(self, vendor: str, name: str) -> Workflow:
        for wf in self.workflows[vendor]:
            if wf.name == name:
                return wf
        wf = Workflow(vendor, self.new_workflow_id(vendor), name, name.lower().replace(" ", "-"))
        self.workflows[vendor].append(wf)
        return wf

    def new_workflow_id(self, vendor: str) -> str:
        if vendor in SERIAL_IDS:
            return str(SERIAL_IDS[vendor][1] + next(self._serial))
        if vendor == "extend":
            return "workflow_" + self._token(12)
        if vendor == "cortex":
            return "wf_" + self._token(8).lower()
        return self.random_uuid()

    def new_run_id(self, vendor: str) -> str:
        if vendor in SERIAL_IDS:
            return str(SERIAL_IDS[vendor][0] + next(self._serial))
        if vendor == "airflow":  # unique per DAG in Airflow; unique in the world here
            return f"manual__{format_ts(self.clock())[:-1]}{next(self._serial):03d}+00:00"
        if vendor == "extend":
            return "workflow_run_" + self._token(21)
        if vendor == "cortex":
            return "run_" + self._token(10).lower()
        return self.random_uuid()

    def random_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _token(self, n: int) -> str:
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=n))

    def add_run(self, vendor: str, status: str, *, workflow: Workflow | None = None,
                created: float | None = None, updated: float | None = None,
                id: str | None = None, overrides: dict[str, Any] | None = None,
                drop: Iterable[str] = (), replace: Any = KEEP, account: Account | None = None,
                **extra: Any) -> SimRun:
        """A new run (of ``account``, default the main one); ``overrides``, ``drop`` and
        ``replace`` make it hostile at once (see :meth:`override`)."""
        created = self.clock() if created is None else created
        wf = workflow or (self.workflows[vendor][0] if self.workflows[vendor]
                          else self.workflow(vendor, "Invoice Processing"))
        own = {k: extra.pop(k) for k in ("error", "error_count", "started", "finished")
               if k in extra}
        run = SimRun(id=id or self.new_run_id(vendor), vendor=vendor, workflow=wf, status=status,
                     created=created, updated=created if updated is None else updated,
                     account=account or self.main[vendor], extra=extra, **own)
        if overrides or drop or replace is not KEEP:
            run.hostile = Hostile(dict(overrides or {}), tuple(drop), replace)
        self.runs[vendor][run.id] = run
        run.account.runs[run.id] = run
        self.transitions.append(Transition(vendor, run.id, None, status, run.updated))
        self._changed(run)
        return run

    def set_status(self, run: SimRun | str, status: str, *, at: float | None = None,
                   error: str | None = None, error_count: int | None = None) -> SimRun:
        r = self.get(run)
        now = self.clock() if at is None else at
        prev = r.status
        r.status = status
        r.updated = now
        if error is not None:
            r.error = error
        if error_count is not None:
            r.error_count = error_count
        if prev != status:
            self.transitions.append(Transition(r.vendor, r.id, prev, status, now))
        self._changed(r)
        return r

    def override(self, run: SimRun | str, overrides: dict[str, Any] | None = None, *,
                 drop: Iterable[str] = (), replace: Any = KEEP) -> SimRun:
        """Serve ``run``'s item mangled from now on: ``overrides`` set fields to any
        JSON, ``drop`` leaves fields out, ``replace`` serves this instead of the item.
        With none of them, the run is served as it is again.  Not a change of the run."""
        r = self.get(run)
        hostile = Hostile(dict(overrides or {}), tuple(drop), replace)
        r.hostile = None if hostile == Hostile() else hostile
        r.account.version += 1
        return r

    def touch(self, run: SimRun | str, *, at: float | None = None) -> SimRun:
        """Bump a run's updated time without a status change."""
        r = self.get(run)
        r.updated = self.clock() if at is None else at
        self._changed(r)
        return r

    def delete(self, run: SimRun | str) -> None:
        r = self.get(run)
        del self.runs[r.vendor][r.id]
        r.account.runs.pop(r.id, None)
        r.account.version += 1

    def get(self, run: SimRun | str) -> SimRun:
        if isinstance(run, SimRun):
            return run
        for runs in self.runs.values():
            if run in runs:
                return runs[run]
        raise KeyError(run)

    def _changed(self, run: SimRun) -> None:
        run.account.version += 1
        for fn in self.listeners:
            fn(run)

    # -- observing -------------------------------------------------------------------

    def count(self, vendor: str, path_part: str = "") -> int:
        """Requests served for ``vendor`` whose path contains ``path_part``."""
        return sum(1 for r in self.requests if r.vendor == vendor and path_part in r.path)

