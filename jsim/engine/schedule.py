"""How many threads the day-by-day path uses, batch by batch, and replications side by side.

The day-by-day path (word of mouth, service queues) meets at a barrier every day: tomorrow's
hazards need today's census. When another process holds a core, one of our threads is
descheduled for a time slice now and then and every other thread waits for it at the barrier, so
two threads can be slower than one. Two remedies, both measured in ``benchmarks/bench_busy.py``:

* :class:`DaySchedule` times every batch of days and runs the next on the thread count that has
  been fastest per customer-day (one thread, or all the threads this replication may use),
  trying the other count again now and then so it follows the machine's load;
* :class:`ThreadShare` lets several replications run side by side, one thread each, with no
  barrier between them; a replication left running alone widens onto the threads the finished
  ones gave back.

Results never depend on either: every customer draws from its own stream.
"""

from __future__ import annotations

__all__ = ["DaySchedule", "ThreadShare"]

import threading
from collections.abc import Callable

#: Batches run on one thread between two tries of the wider count; doubled (up to
#: :data:`MAX_EXPLORE_EVERY`) each time the wider count loses again.
EXPLORE_EVERY = 4
MAX_EXPLORE_EVERY = 8


class DaySchedule:
    """Thread count for each batch of days, picked by measured speed.

    ``most()`` is the largest count this replication may use now (it can change while the
    replication runs). The first two batches run on ``most()`` threads (the first one's time,
    which may include starting numba's threads, is not counted), the third on one; after that
    the faster per customer-day is used, and while one thread is ahead the wider count is tried
    again every :data:`EXPLORE_EVERY` batches (backing off while it keeps losing). Speeds are the
    latest measurement of each count, so a change in load shows at the next batch.
    """

    def __init__(self, most: Callable[[], int], explore_every: int = EXPLORE_EVERY):
        self.most = most
        self.explore_every = explore_every
        self.every = explore_every
        self.rate: dict[int, float] = {}  # customer-days per second, latest batch on that count
        self.since = 0  # batches on one thread since the wider count was last tried
        self.history: list[int] = []
        self.warm = False  # a batch on the wider count has run (its time not counted)

    def threads(self) -> int:
        """Threads for the next batch."""
        wide = max(1, int(self.most()))
        if wide == 1:
            return 1
        if wide not in self.rate:
            return wide
        if 1 not in self.rate:
            return 1
        if self.rate[wide] >= self.rate[1]:
            return wide
        self.since += 1
        if self.since > self.every:
            return wide
        return 1

    def record(self, threads: int, work: float, seconds: float) -> None:
        """A batch of ``work`` customer-days took ``seconds`` on ``threads`` threads."""
        self.history.append(threads)
        if threads > 1 and not self.warm:
            self.warm = True
            return
        if work <= 0 or seconds <= 0:
            return
        rate = work / seconds
        if threads > 1 and self.since > self.every:  # a try of the wider count after losing
            self.since = 0
            one = self.rate.get(1, 0.0)
            self.every = self.explore_every if rate >= one else min(2 * self.every, MAX_EXPLORE_EVERY)
        self.rate[threads] = rate


class ThreadShare:
    """``total`` threads shared by the replications running at the moment.

    Each running replication may use ``total // running`` threads; when the threading layer
    cannot run parallel regions from two Python threads at once (numba's ``workqueue``), only a
    replication running alone uses more than one.
    """

    def __init__(self, total: int, concurrent_regions: bool = True):
        self.total = max(1, int(total))
        self.concurrent_regions = concurrent_regions
        self.running = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self.running += 1

    def leave(self) -> None:
        with self._lock:
            self.running -= 1

    def most(self) -> int:
        """Threads a running replication may use now."""
        running = max(1, self.running)
        if running > 1 and not self.concurrent_regions:
            return 1
        return max(1, self.total // running)
