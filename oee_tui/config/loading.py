"""Reading a config file: TOML in, a validated Config out, or one ConfigError that says what to fix.

The kinds of source are handed in (oee_tui.config.kinds): the caller decides which
exist, and `oee_tui.drivers.registry` binds these functions to every kind there is.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oee_tui.config.access import read_access
from oee_tui.config.central_settings import read_central
from oee_tui.config.edge_settings import read_edge
from oee_tui.config.kinds import SourceKinds, read_sources
from oee_tui.config.machines import read_lines, read_machines, read_state_map
from oee_tui.config.plant import DEFAULT_STATE_MAP, Config, SiteConfig, Targets
from oee_tui.config.reasons import read_reasons
from oee_tui.config.service_settings import read_service
from oee_tui.config.shift_times import read_shifts
from oee_tui.config.store_settings import read_store
from oee_tui.config.toml_reader import ConfigError, TomlReader, TomlTable

SECTIONS = frozenset({"site", "lines", "machines", "sources", "reasons", "shifts", "targets", "state_map", "edge",
                      "store", "access", "service", "central"})


def load_config(path: Path | str, kinds: SourceKinds, *, secrets: bool = True) -> Config:
    """Read and validate a config file. Raises ConfigError, never anything else for bad content.

    `secrets=False` leaves passwords given by a variable or a file unread (None): for a TUI attached to
    the engine, which shows the plant but connects to no device, and whose user may not read them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(path, "(file)", None, "file not found; run `oee config init` to write a sample") from exc
    except OSError as exc:
        raise ConfigError(path, "(file)", None, f"cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "(file)", None, "must be UTF-8 text") from exc
    return parse_config(text, kinds, path, secrets=secrets)


def parse_config(text: str, kinds: SourceKinds, path: Path | str = "<config>", *, secrets: bool = True) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", None, f"is not valid TOML: {exc}") from exc
    return config_from_dict(data, kinds, path, secrets=secrets)


def config_from_dict(data: TomlTable, kinds: SourceKinds, path: Path | str = "<config>", *,
                     secrets: bool = True) -> Config:
    r = TomlReader(path, secrets=secrets)
    r.unknown_keys(data, "", SECTIONS)
    site = _site(r, data)
    sources = read_sources(r, data, kinds)
    lines = read_lines(r, data)
    plant_state_map = read_state_map(r, data.get("state_map"), "state_map", DEFAULT_STATE_MAP)
    machines = read_machines(r, data, {line.id for line in lines}, {source.name: source for source in sources},
                             plant_state_map, kinds)
    reasons = read_reasons(r, data)
    shifts = read_shifts(r, data)
    targets = _targets(r, data)
    return Config(site=site, lines=lines, machines=machines, sources=sources, reasons=reasons,
                  shifts=shifts, targets=targets, path=Path(path) if not str(path).startswith("<") else None,
                  edge=read_edge(r, data, tuple(machine.id for machine in machines)), store=read_store(r, data),
                  access=read_access(r, data), secrets_in_file=tuple(r.secrets_in_file),
                  private_key_files=tuple(r.private_key_files), service=read_service(r, data),
                  central=read_central(r, data, site.name))


def _site(r: TomlReader, data: TomlTable) -> SiteConfig:
    site_t = r.table(data, "site", "site")
    r.unknown_keys(site_t, "site", {"name", "timezone", "stale_after_s"})
    timezone = r.string(site_t, "site", "timezone", default="UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise r.fail("site.timezone", timezone, "must be an IANA time zone such as Europe/Berlin") from exc
    return SiteConfig(
        name=r.string(site_t, "site", "name"),
        timezone=timezone,
        stale_after_s=r.number(site_t, "site", "stale_after_s", default=10.0, positive=True),
    )


def _targets(r: TomlReader, data: TomlTable) -> Targets:
    targets_t = r.table(data, "targets", "targets", required=False)
    r.unknown_keys(targets_t, "targets", {"oee", "availability", "performance", "quality"})
    defaults = Targets()
    return Targets(oee=_fraction(r, targets_t, "oee", defaults.oee),
                   availability=_fraction(r, targets_t, "availability", defaults.availability),
                   performance=_fraction(r, targets_t, "performance", defaults.performance),
                   quality=_fraction(r, targets_t, "quality", defaults.quality))


def _fraction(r: TomlReader, data: TomlTable, name: str, default: float) -> float:
    value = r.number(data, "targets", name, default=default)
    if not 0 < value <= 1:
        raise r.fail(f"targets.{name}", value, "must be a fraction between 0 and 1, e.g. 0.85")
    return value
