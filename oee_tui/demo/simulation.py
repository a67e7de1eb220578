"""The demo plant's machines: pure, deterministic simulation with no I/O.

A `SimMachine` behaves like a packaging machine seen through its PLC: a state
code, part counters that wrap at the PLC's word width, a speed, a product code
and a fault bit. Everything random comes from the `random.Random` it is given,
so a seed replays the same shift, which the tests rely on.

Event rates are real-time rates (a minor stop every few minutes, a breakdown
every ~45 min, a product change every 1-2 h), chosen so that someone watching
the demo for five minutes sees several states across the plant. Stops are
counted down in running time, as on a real line, where a machine that is not
running is not wearing out or using up its order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

# State codes, as the PLC reports them (the config's default state map).
RUNNING: Final = 1
STOPPED: Final = 2  # minor stop: jam, missing part, light curtain
DOWN: Final = 3  # breakdown: needs maintenance
CHANGEOVER: Final = 4  # product change
PLANNED_STOP: Final = 5  # shift break

# Mean running time between events, seconds. Exponential gaps, as failures are
# memoryless; product runs are order sized instead, so they use a range.
MINOR_STOP_EVERY_S: Final = 240.0
BREAKDOWN_EVERY_S: Final = 3000.0
REDUCED_SPEED_EVERY_S: Final = 600.0
PRODUCT_RUN_S: Final = (3600.0, 7200.0)

# Durations, seconds.
MINOR_STOP_S: Final = (5.0, 90.0)
BREAKDOWN_S: Final = (180.0, 720.0)
CHANGEOVER_S: Final = (240.0, 600.0)
REDUCED_SPEED_S: Final = (60.0, 300.0)
STARTUP_S: Final = (90.0, 240.0)  # scrap is high while the line settles after a restart

# Scrap fractions: normal running, and right after a changeover or breakdown.
SCRAP_NORMAL: Final = (0.005, 0.025)
SCRAP_STARTUP: Final = (0.04, 0.08)

# A 16-bit PLC counter starts this far below its wrap (a signed one below its sign
# change), so a wrap shows within minutes.
WRAP_HEADROOM: Final = (150, 450)


def _exp(rng: random.Random, mean: float) -> float:
    return rng.expovariate(1.0 / mean)


class SimMachine:
    """One simulated machine. Call `step` once per tick; read the attributes the PLC would expose."""

    def __init__(self, machine_id: str, products: Mapping[int | str, float], counter_width: int,
                 rng: random.Random, *, signed: bool = False) -> None:
        """`products` maps each product code to its ideal cycle time in seconds.

        `signed`: the PLC stores the counters in a signed type (an S7 INT or
        DINT). The counters still count modulo 2**counter_width, but the total
        starts just below 2**(counter_width - 1), where the PLC's value turns
        negative, so the demo shows that within minutes as it shows a 16-bit wrap.
        """
        if not products:
            raise ValueError(f"{machine_id}: a machine needs at least one product")
        self.id = machine_id
        self.products: dict[int | str, float] = dict(products)
        self.counter_width = counter_width
        self.modulus = 1 << counter_width
        self.rng = rng

        # What the PLC exposes.
        self.state_code: int = RUNNING
        self.product: int | str = rng.choice(list(self.products))
        self.speed: float = 0.0  # parts per minute
        self.fault: bool = False
        if signed:
            self.total = (self.modulus >> 1) - 1 - rng.randint(*WRAP_HEADROOM)
            self.reject = rng.randint(0, 5_000)
        elif counter_width <= 16:
            self.total = self.modulus - 1 - rng.randint(*WRAP_HEADROOM)
            self.reject = rng.randint(0, 5_000)
        else:
            self.total = rng.randint(1_000_000, 50_000_000) % self.modulus
            self.reject = rng.randint(10_000, 400_000) % self.modulus
        self.good = (self.total - self.reject) % self.modulus
        self.state_since: float | None = None  # `now` of the last state change; None until the first

        # Behaviour, drawn once per machine so machines differ from one another.
        self.base_scrap = rng.uniform(*SCRAP_NORMAL)

        # Countdowns in running seconds to the next event of each kind.
        self._until_minor = _exp(rng, MINOR_STOP_EVERY_S)
        self._until_breakdown = _exp(rng, BREAKDOWN_EVERY_S)
        # Part of the current order is already done when the demo starts.
        self._until_changeover = rng.uniform(0.05, 1.0) * rng.uniform(*PRODUCT_RUN_S)
        self._until_slowdown = _exp(rng, REDUCED_SPEED_EVERY_S)
        self._slow_left = 0.0  # seconds of reduced speed left
        self._slow_factor = 1.0
        self._startup_left = 0.0  # seconds of startup scrap left
        self._startup_scrap = 0.0
        self._stop_left = 0.0  # seconds left in the current stopped / down / changeover state
        self._partial = rng.random()  # the fraction of a part already made, so machines don't count in step

        # Start some machines mid-event, so the first screen of the demo is not all green.
        roll = rng.random()
        if roll < 0.12:
            self._enter(STOPPED, None, rng.uniform(5.0, 40.0))
        elif roll < 0.22:
            self._enter(DOWN, None, rng.uniform(60.0, 300.0))
        elif roll < 0.27:
            self._enter(CHANGEOVER, None, rng.uniform(60.0, 240.0))

    @property
    def cycle_time_s(self) -> float:
        return self.products[self.product]

    def plan_breakdown(self, within_s: float) -> None:
        """Break down after at most `within_s` seconds of running (sooner if one was due anyway)."""
        self._until_breakdown = min(self._until_breakdown, within_s)

    def plan_changeover(self, within_s: float) -> None:
        """Change product after at most `within_s` seconds of running."""
        self._until_changeover = min(self._until_changeover, within_s)

    # ------------------------------------------------------------ stepping

    def step(self, now: float, dt: float, planned_break: bool) -> None:
        """Advance by `dt` seconds ending at `now` (epoch seconds; only recorded, never read as a clock)."""
        if dt <= 0:
            return
        state = self.state_code
        if state == RUNNING:
            if planned_break:
                self._enter(PLANNED_STOP, now)
            else:
                self._run(now, dt)
        elif state == STOPPED:
            # A break makes the operator walk away from a jam too.
            self._stop_left -= dt
            if planned_break:
                self._enter(PLANNED_STOP, now)
            elif self._stop_left <= 0:
                self._enter(RUNNING, now)
        elif state in (DOWN, CHANGEOVER):
            # Maintenance and setup crews finish their job through a break.
            self._stop_left -= dt
            if self._stop_left <= 0:
                if state == CHANGEOVER:
                    self._new_product()
                self._begin_startup()
                self._enter(PLANNED_STOP if planned_break else RUNNING, now)
        elif state == PLANNED_STOP and not planned_break:
            self._enter(RUNNING, now)
        if self.state_code != RUNNING:
            self.speed = 0.0

    def _run(self, now: float, dt: float) -> None:
        rng = self.rng
        self._produce(dt)
        self._until_minor -= dt
        self._until_breakdown -= dt
        self._until_changeover -= dt
        self._until_slowdown -= dt
        if self._slow_left > 0:
            self._slow_left -= dt
        elif self._until_slowdown <= 0:
            self._slow_left = rng.uniform(*REDUCED_SPEED_S)
            self._slow_factor = rng.uniform(0.55, 0.85)
            self._until_slowdown = _exp(rng, REDUCED_SPEED_EVERY_S)
        if self._startup_left > 0:
            self._startup_left -= dt
        # The most serious event wins when two fall due in one tick.
        if self._until_breakdown <= 0:
            self._until_breakdown = _exp(rng, BREAKDOWN_EVERY_S)
            self._enter(DOWN, now, rng.uniform(*BREAKDOWN_S))
        elif self._until_changeover <= 0:
            self._until_changeover = rng.uniform(*PRODUCT_RUN_S)
            self._enter(CHANGEOVER, now, rng.uniform(*CHANGEOVER_S))
        elif self._until_minor <= 0:
            self._until_minor = _exp(rng, MINOR_STOP_EVERY_S)
            # Most jams are cleared quickly; a few take the operator a while.
            self._enter(STOPPED, now, rng.triangular(MINOR_STOP_S[0], MINOR_STOP_S[1], 12.0))

    def _produce(self, dt: float) -> None:
        rng = self.rng
        # Real machines run a little below their ideal rate, never above it.
        factor = min(1.0, rng.gauss(0.965, 0.02))
        if self._slow_left > 0:
            factor *= self._slow_factor
        rate = factor / self.cycle_time_s  # parts per second
        self.speed = round(rate * 60.0, 1)
        self._partial += rate * dt
        made = int(self._partial)
        self._partial -= made
        scrap = self._startup_scrap if self._startup_left > 0 else self.base_scrap
        # Per-part draws: a handful of parts per tick, and exact for any dt.
        rejected = sum(1 for _ in range(made) if rng.random() < scrap)
        self.total = (self.total + made) % self.modulus
        self.reject = (self.reject + rejected) % self.modulus
        self.good = (self.good + made - rejected) % self.modulus

    def _new_product(self) -> None:
        others = [code for code in self.products if code != self.product]
        if others:
            self.product = self.rng.choice(others)

    def _begin_startup(self) -> None:
        self._startup_left = self.rng.uniform(*STARTUP_S)
        self._startup_scrap = self.rng.uniform(*SCRAP_STARTUP)

    def _enter(self, state: int, now: float | None, duration: float = 0.0) -> None:
        self.state_code = state
        self.state_since = now
        self._stop_left = duration
        self.fault = state == DOWN
        if state != RUNNING:
            self.speed = 0.0


class BreakCalendar:
    """Is `now` inside a break? Breaks are local "HH:MM" times, every day, in one time zone.

    The engine has a full shift calendar; the simulation only needs to know
    when the operators walk away, so this stays small.
    """

    def __init__(self, breaks: Iterable[tuple[str, str]], timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self.windows: tuple[tuple[int, int], ...] = tuple(
            (_minutes(start), _minutes(end)) for start, end in breaks
        )

    def __call__(self, now: float) -> bool:
        local = datetime.fromtimestamp(now, self.tz)
        minute = local.hour * 60 + local.minute
        for start, end in self.windows:
            # A break that ends at or before it starts runs past midnight.
            inside = start <= minute < end if start < end else (minute >= start or minute < end)
            if inside:
                return True
        return False


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def never_on_break(now: float) -> bool:
    return False


class SimPlant:
    """All machines of the demo plant, stepped together; breaks come from a calendar."""

    def __init__(self, machines: Sequence[SimMachine],
                 planned_break: Callable[[float], bool] = never_on_break) -> None:
        self.machines: dict[str, SimMachine] = {machine.id: machine for machine in machines}
        self.planned_break = planned_break

    def step(self, now: float, dt: float) -> None:
        on_break = self.planned_break(now)
        for machine in self.machines.values():
            machine.step(now, dt, on_break)

    def __getitem__(self, machine_id: str) -> SimMachine:
        return self.machines[machine_id]
