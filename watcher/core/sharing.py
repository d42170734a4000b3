"""How replicas share leases: a fair share each, and a stable choice of which.

Pure: given the leases wanted (every source and network sink of the config),
who holds what, and the live replicas, :func:`plan` says which free leases
this replica takes and which it gives back.  Each replica takes at most its
fair share, ``ceil(leases / live replicas)``, preferring the leases that
rendezvous hashing of (replica, lease) assigns to it, so the assignment stays
put while nothing changes and only about ``1/n`` of it moves when a replica
comes or goes.  A replica gives a lease back when it holds more than its
share, or when the lease's preferred replica is live and under its share:
that is how a new replica gets work.  A free lease preferred by another live
replica that still has room is left to it, so two replicas do not take turns
on one lease.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    take: tuple[str, ...] = ()
    give: tuple[str, ...] = ()


def weight(replica: str, lease: str) -> int:
    """Rendezvous weight: stable across processes and versions (not Python's hash)."""
    digest = hashlib.blake2b(f"{replica}\0{lease}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def preferred(lease: str, live: Sequence[str]) -> str:
    """The live replica rendezvous hashing gives ``lease`` to."""
    return max(live, key=lambda r: weight(r, lease))


def plan(me: str, wanted: Collection[str], held: Collection[str],
         holders: Mapping[str, str | None], live: Sequence[str]) -> Plan:
    """What ``me`` takes and gives back.  ``holders``: lease -> live holder (None: free);
    a wanted lease with no row yet is free.  ``live`` includes ``me``."""
    live = sorted({*live, me})
    share = math.ceil(len(wanted) / len(live))
    prefer = {name: preferred(name, live) for name in wanted}
    counts = Counter(h for n, h in holders.items() if n in wanted and h in live and h != me)
    free = [n for n in sorted(wanted) if n not in held and holders.get(n) is None]
    # each replica takes the free leases it prefers up to its share; the rest are spare
    claimed = Counter[str]()
    spare: list[str] = []
    for n in free:
        owner = prefer[n]
        if owner != me and counts[owner] + claimed[owner] >= share:
            spare.append(n)
        claimed[owner] += 1
    give = [n for n in held if n not in wanted]
    keep = sorted((n for n in held if n in wanted), key=lambda n: (prefer[n] == me, n))
    for n in list(keep):  # a lease another live replica prefers, and has room for
        owner = prefer[n]
        if owner != me and counts[owner] + claimed[owner] < share:
            give.append(n)
            keep.remove(n)
            claimed[owner] += 1
    while len(keep) > share:  # others' preferred first
        give.append(keep.pop(0))
    ours = [n for n in free if prefer[n] == me]
    return Plan(take=tuple((ours + spare)[:max(0, share - len(keep))]), give=tuple(give))
