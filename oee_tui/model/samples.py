"""What drivers deliver: tag samples, their quality, and columns of samples.

Times are POSIX seconds (float, UTC) inside the engine: a float is cheap to
compare and subtract at 200k samples/s, and it cannot carry a wrong tzinfo.
Conversion to aware datetimes happens only at the edges (store, UI, reports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

TagValue = float | int | bool | str | None


class Quality(StrEnum):
    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class TagSample:
    """One value read from one tag of one source.

    `ts_utc` is POSIX seconds (UTC). `quality` is never omitted: a driver that
    loses its connection emits BAD samples so the engine can mark machines
    offline instead of guessing.
    """

    ts_utc: float
    source: str
    tag: str
    value: TagValue
    quality: Quality = Quality.GOOD
    error: str | None = None


# TagSample is a frozen dataclass: its __init__ sets each field through object.__setattr__,
# which costs as much as decoding a Sparkplug metric. good_samples, which turns a Sparkplug
# host's columns back into TagSamples for whoever iterates them (the edge node watching every
# sample, at the host's full rate), fills the slots through their descriptors instead: half the
# time, the same object. That is only the same object while TagSample is these six slots and
# nothing runs in __init__, checked here at import.
_SAMPLE_SLOTS: Final = ("ts_utc", "source", "tag", "value", "quality", "error")
if tuple(TagSample.__dataclass_fields__) != _SAMPLE_SLOTS or hasattr(TagSample, "__post_init__") or \
        TagSample.__slots__ != _SAMPLE_SLOTS:
    raise ImportError("TagSample changed: update the slot setters below and their users")


def _slot_setter(name: str) -> Callable[[TagSample, Any], None]:
    setter: Callable[[TagSample, Any], None] = vars(TagSample)[name].__set__
    return setter


new_sample = TagSample.__new__
set_ts = _slot_setter("ts_utc")
set_source = _slot_setter("source")
set_tag = _slot_setter("tag")
set_value = _slot_setter("value")
set_quality = _slot_setter("quality")
set_error = _slot_setter("error")


def good_samples(source: str, times: list[float], tags: list[str], values: list[TagValue]) -> list[TagSample]:
    """TagSample(ts, source, tag, value) for each position of the three columns, quality GOOD."""
    samples: list[TagSample] = []
    add = samples.append
    good = Quality.GOOD
    for ts, tag, value in zip(times, tags, values, strict=True):
        sample = new_sample(TagSample)
        set_ts(sample, ts)
        set_source(sample, source)
        set_tag(sample, tag)
        set_value(sample, value)
        set_quality(sample, good)
        set_error(sample, None)
        add(sample)
    return samples


@dataclass(slots=True)
class SampleColumns:
    """GOOD samples of one source as three columns of equal length.

    What the Sparkplug host decodes DATA into and its worker process sends: the engine ingests
    them without building a TagSample for each (half a microsecond apiece, a third of the
    engine's time per sample). The host appends while it decodes a pass of messages; once
    emitted, nobody changes them. Iterating yields TagSamples, for anyone who needs them.
    """

    source: str
    times: list[float]
    tags: list[str]
    values: list[TagValue]

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[TagSample]:
        return iter(good_samples(self.source, self.times, self.tags, self.values))


SampleBatch = Sequence[TagSample] | SampleColumns  # what a driver emits to the engine
