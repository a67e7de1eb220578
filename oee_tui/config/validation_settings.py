"""``[validation]``: the limits `oee validate`'s site acceptance holds the plant to."""

from __future__ import annotations

from dataclasses import dataclass

from oee_tui.config.toml_reader import TomlReader, TomlTable


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    """``[validation]``: see the README's "Validation" section."""

    # A device clock further than this from the box's fails the check: counts and states would land in the
    # wrong minute (and, near a shift change, the wrong shift).
    max_clock_offset_s: float = 2.0


def read_validation(r: TomlReader, data: TomlTable) -> ValidationSettings:
    t = r.table(data, "validation", "validation", required=False)
    r.unknown_keys(t, "validation", set(ValidationSettings.__dataclass_fields__))
    defaults = ValidationSettings()
    return ValidationSettings(max_clock_offset_s=r.number(t, "validation", "max_clock_offset_s",
                                                          default=defaults.max_clock_offset_s, minimum=0.0))
