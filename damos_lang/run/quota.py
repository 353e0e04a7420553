"""Quota state per scheme (algorithm.md §9.3, §9.5): charge windows, the
effective quota ``esz`` with goal tuning, and the resume mark.  Times are the
monitor's clock in µs; the time quota uses the real time the actions took."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..model import Quota, QuotaGoal
from ..monitor.tune import FEED_GOAL, FEED_MIN_INPUT, feed_loop_next_input
from ..units import ULONG_MAX
from .scores import mult_frac

DEFAULT_THROUGHPUT = 4096 * 1024        # bytes per ms before anything was measured


# current value of a goal: (goal, goal state) -> int, or None when unreadable
GoalReader = Callable[[QuotaGoal, "GoalState"], Optional[int]]


@dataclass
class GoalState:
    current: int = 0                 # the last value computed (user_input: what the user set)
    last_psi_total: int | None = None


class QuotaState:
    """``struct damos_quota``'s private part, for one scheme."""

    def __init__(self, quota: Quota | None, min_region_sz: int) -> None:
        self.quota = quota
        self.min_region_sz = min_region_sz
        self.esz = 0
        self.esz_bp = 0
        self.charged_sz = 0
        self.charged_from: int | None = None   # µs; None before the first window
        self.total_charged_sz = 0
        self.total_charged_ns = 0
        self.charge_target_from: int | None = None   # target index
        self.charge_addr_from = 0
        self.min_score = 0
        self.ended_full = False              # the last window closed full (qt_exceeds)
        self.goals = [GoalState(current=g.current_value) for g in (quota.goals if quota else ())]

    # --- the kernel's predicates ---------------------------------------------------
    @property
    def is_set(self) -> bool:
        q = self.quota
        return bool(q is not None and (self.esz or q.sz or q.ms or q.goals))

    @property
    def is_full(self) -> bool:
        if not self.is_set:
            return False
        return self.charged_sz >= self.esz or self.esz - self.charged_sz < self.min_region_sz

    # --- windows -----------------------------------------------------------------
    def adjust(self, now_us: int, read_goal: GoalReader) -> bool:
        """Open a new window when the last one ended; True if it did, with
        ``ended_full`` telling whether the window that closed was full."""
        if not self.is_set:
            return False
        q = self.quota
        self.ended_full = False
        if self.charged_from is None:                      # the first window (7.x)
            self.charged_from = now_us
            self.esz = self.effective(read_goal)
            return True
        if not (self.charged_from <= now_us < self.charged_from + q.reset_interval_ms * 1000):
            self.ended_full = self.is_full
            self.total_charged_sz += self.charged_sz
            self.charged_sz = 0
            self.charged_from = now_us
            self.esz = self.effective(read_goal)
            return True
        return False

    def effective(self, read_goal: GoalReader) -> int:
        """damos_set_effective_quota (algorithm.md §9.5)."""
        q = self.quota
        if not q.ms and not q.goals:
            return q.sz
        e = ULONG_MAX
        if q.goals:
            score = self.goal_score(read_goal)
            if q.goal_tuner == "temporal":
                self.esz_bp = 0 if score >= FEED_GOAL else (q.sz * 10000 if q.sz else ULONG_MAX)
            else:                                           # consist, the default
                self.esz_bp = feed_loop_next_input(max(self.esz_bp, FEED_MIN_INPUT), score)
            e = self.esz_bp // 10000
        if q.ms:
            if self.total_charged_ns:
                tput = mult_frac(self.total_charged_sz, 1_000_000, self.total_charged_ns)
            else:
                tput = DEFAULT_THROUGHPUT
            e = min(e, max(tput * q.ms, self.min_region_sz))
        if q.sz and q.sz < e:
            e = q.sz
        return e

    def goal_score(self, read_goal: GoalReader) -> int:
        """The highest (least aggressive) of the goals' achievement scores."""
        best = 0
        for g, st in zip(self.quota.goals, self.goals):
            cur = read_goal(g, st)
            if cur is not None:
                st.current = cur
            if g.target_value:
                best = max(best, mult_frac(st.current, 10000, g.target_value))
        return best

    # --- charging ------------------------------------------------------------------
    def charge(self, sz: int, applied: int, target_index: int, region_end: int,
               elapsed_ns: int) -> None:
        q = self.quota
        self.total_charged_ns += elapsed_ns
        if q is None or not q.fail_charge_denom or applied > sz:
            self.charged_sz += sz
        else:
            self.charged_sz += applied + mult_frac(sz - applied, q.fail_charge_num,
                                                   q.fail_charge_denom)
        if self.is_full:
            self.charge_target_from = target_index
            self.charge_addr_from = region_end
