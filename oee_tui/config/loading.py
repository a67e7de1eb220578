"""Reading a config file: TOML in, a validated Config out, or a ConfigError that says what to fix (a
ConfigProblems with every problem in the file).

The kinds of source are handed in (oee_tui.config.kinds): the caller decides which
exist, and `oee_tui.drivers.registry` binds these functions to every kind there is.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oee_tui.config.access import AccessSettings, read_access
from oee_tui.config.alert_rules import AlertSettings, read_alerts
from oee_tui.config.central_settings import CentralSettings, read_central
from oee_tui.config.edge_settings import EdgeConfig, read_edge
from oee_tui.config.kinds import SourceKinds, read_sources
from oee_tui.config.machines import read_lines, read_machines, read_state_map
from oee_tui.config.plant import DEFAULT_STATE_MAP, Config, LineConfig, MachineConfig, SiteConfig, Targets
from oee_tui.config.reasons import Reason, read_reasons
from oee_tui.config.service_settings import ServiceSettings, read_service
from oee_tui.config.shift_times import ShiftConfig, read_shifts
from oee_tui.config.sources import SourceConfig
from oee_tui.config.store_settings import StoreConfig, read_store
from oee_tui.config.toml_reader import FILE_KEY, SYNTAX_KEY, ConfigError, TomlReader, TomlTable
from oee_tui.config.validation_settings import ValidationSettings, read_validation

SECTIONS = frozenset({"site", "lines", "machines", "sources", "reasons", "shifts", "targets", "state_map", "edge",
                      "store", "access", "service", "validation", "alerts", "central"})


def load_config(path: Path | str, kinds: SourceKinds, *, secrets: bool = True) -> Config:
    """Read and validate a config file. Raises ConfigError, never anything else for bad content.

    `secrets=False` leaves passwords given by a variable or a file unread (None): for a TUI attached to
    the engine, which shows the plant but connects to no device, and whose user may not read them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(path, FILE_KEY, None, "does not exist; run `oee config init` to write a sample") from exc
    except OSError as exc:
        raise ConfigError(path, FILE_KEY, None, f"cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, FILE_KEY, None, "is not UTF-8 text") from exc
    return parse_config(text, kinds, path, secrets=secrets)


def parse_config(text: str, kinds: SourceKinds, path: Path | str = "<config>", *, secrets: bool = True) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, SYNTAX_KEY, None, f"is not valid TOML: {exc}") from exc
    return config_from_dict(data, kinds, path, secrets=secrets)


def config_from_dict(data: TomlTable, kinds: SourceKinds, path: Path | str = "<config>", *,
                     secrets: bool = True) -> Config:
    """Every section and entry is read even after one has a problem: the ConfigProblems raised lists them all."""
    r = TomlReader(path, secrets=secrets)
    with r.noting():
        r.unknown_keys(data, "", SECTIONS)
    site: SiteConfig | None = r.part(lambda: _site(r, data), None)
    sources: tuple[SourceConfig, ...] = r.part(lambda: read_sources(r, data, kinds), ())
    lines: tuple[LineConfig, ...] = r.part(lambda: read_lines(r, data), ())
    plant_state_map: dict[int, str] = r.part(
        lambda: read_state_map(r, data.get("state_map"), "state_map", DEFAULT_STATE_MAP), DEFAULT_STATE_MAP)
    machines: tuple[MachineConfig, ...] = r.part(lambda: read_machines(r, data, {line.id for line in lines},
                                            {source.name: source for source in sources}, plant_state_map, kinds), ())
    reasons: tuple[Reason, ...] = r.part(lambda: read_reasons(r, data), ())
    shifts: tuple[ShiftConfig, ...] = r.part(lambda: read_shifts(r, data), ())
    targets = r.part(lambda: _targets(r, data), Targets())
    edge: EdgeConfig | None = r.part(lambda: read_edge(r, data, tuple(machine.id for machine in machines)), None)
    store: StoreConfig | None = r.part(lambda: read_store(r, data), None)
    access: AccessSettings | None = r.part(lambda: read_access(r, data), None)
    service: ServiceSettings | None = r.part(lambda: read_service(r, data), None)
    validation: ValidationSettings | None = r.part(lambda: read_validation(r, data), None)
    signal_tags = {(mapping.source, mapping.tag) for machine in machines for mapping in machine.signals.values()}
    alerts: AlertSettings | None = r.part(lambda: read_alerts(r, data, machines, sources, signal_tags), None)
    site_name = site.name if site is not None else ""
    central: CentralSettings | None = r.part(lambda: read_central(r, data, site_name), None)
    r.raise_problems()
    assert site is not None and edge is not None and store is not None and access is not None \
        and service is not None and validation is not None and alerts is not None
    # each is None only after a problem, and a problem was raised above
    return Config(site=site, lines=lines, machines=machines, sources=sources, reasons=reasons,
                  shifts=shifts, targets=targets, path=Path(path) if not str(path).startswith("<") else None,
                  edge=edge, store=store, access=access, secrets_in_file=tuple(r.secrets_in_file),
                  private_key_files=tuple(r.private_key_files), service=service, validation=validation,
                  alerts=alerts, central=central)


def _site(r: TomlReader, data: TomlTable) -> SiteConfig:
    site_t = r.table(data, "site", "site")
    r.unknown_keys(site_t, "site", {"name", "timezone", "stale_after_s", "reason_min_stop_s"})
    timezone = r.string(site_t, "site", "timezone", default="UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise r.fail("site.timezone", timezone, "must be an IANA time zone such as Europe/Berlin") from exc
    return SiteConfig(
        name=r.string(site_t, "site", "name"),
        timezone=timezone,
        stale_after_s=r.number(site_t, "site", "stale_after_s", default=10.0, positive=True),
        reason_min_stop_s=r.number(site_t, "site", "reason_min_stop_s", default=5.0, minimum=0),
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
