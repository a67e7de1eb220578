"""The project's own pytest suite as five validation phases, one marker each, given by a test's path.

`tests/conftest.py` calls `mark_items` once per collection, so no test file names its phase: a new test
lands in the phase of its folder. The first rule whose path prefix matches wins (files before folders);
a test no rule names is processing and storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol


@dataclass(frozen=True, slots=True)
class SuitePhase:
    id: str  # what `oee validate --phase` takes
    title: str
    marker: str  # registered in pyproject.toml's [tool.pytest.ini_options] markers


EDGE: Final = SuitePhase("edge", "Edge connectivity", "phase_edge")
PROCESSING: Final = SuitePhase("processing", "Processing and storage", "phase_processing")
SECURITY: Final = SuitePhase("security", "Security", "phase_security")
PERFORMANCE: Final = SuitePhase("performance", "Performance and resilience", "phase_performance")
OBSERVABILITY: Final = SuitePhase("observability", "Observability and quality", "phase_observability")
SUITE_PHASES: Final = (EDGE, PROCESSING, SECURITY, PERFORMANCE, OBSERVABILITY)

# (path prefix under tests/, phase): the first match wins, so single files come before their folders.
RULES: Final[tuple[tuple[str, SuitePhase], ...]] = (
    # who may do what, secrets, certificates, the audit trail
    ("test_access.py", SECURITY), ("test_secrets.py", SECURITY), ("test_audit_cli.py", SECURITY),
    ("store/test_audit.py", SECURITY), ("engine/test_stop_reason_audit.py", SECURITY),
    ("service/test_roles.py", SECURITY), ("service/test_socket_access.py", SECURITY),
    ("service/test_shared_login.py", SECURITY), ("service/test_session_origin.py", SECURITY),
    ("drivers/opcua/test_opcua_security.py", SECURITY), ("ui/test_devices_secured.py", SECURITY),
    ("ui/test_audit_screen.py", SECURITY),
    # full disks, crashes, restarts, bursts, large files
    ("engine/test_disk_full.py", PERFORMANCE), ("engine/test_crash_consistency.py", PERFORMANCE),
    ("engine/test_poison_batch.py", PERFORMANCE), ("engine/test_write_failure_log.py", PERFORMANCE),
    ("engine/test_review_speed_paths.py", PERFORMANCE), ("engine/test_scheduled_backup.py", PERFORMANCE),
    ("engine/test_quiet_subscription.py", PERFORMANCE), ("store/test_damaged_store.py", PERFORMANCE),
    ("store/test_full_disk_checkpoint.py", PERFORMANCE), ("service/test_engine_restart.py", PERFORMANCE),
    ("mqtt/test_broker_restart.py", PERFORMANCE), ("mqtt/test_sparkplug_bursts.py", PERFORMANCE),
    ("edge/test_edge_buffer.py", PERFORMANCE), ("imports/test_import_interrupt.py", PERFORMANCE),
    ("imports/test_xlsx_fast_path.py", PERFORMANCE), ("ui/test_disk_full.py", PERFORMANCE),
    ("drivers/modbus/test_counter_restart.py", PERFORMANCE),
    # what people and monitoring see: logs, metrics, the screens, the code's own rules, the config's checks
    ("test_code_rules.py", OBSERVABILITY), ("test_log_setup.py", OBSERVABILITY),
    ("test_deploy_unit.py", OBSERVABILITY), ("test_config", OBSERVABILITY), ("test_field_checks.py", OBSERVABILITY),
    ("test_service_settings.py", OBSERVABILITY), ("service/test_metrics.py", OBSERVABILITY),
    ("service/test_sd_notify.py", OBSERVABILITY), ("service/test_service_watch.py", OBSERVABILITY),
    ("ui/", OBSERVABILITY), ("validation/", OBSERVABILITY),
    # devices, brokers and the edge node
    ("drivers/", EDGE), ("mqtt/", EDGE), ("edge/", EDGE), ("demo/", EDGE),
    ("engine/", PROCESSING), ("store/", PROCESSING), ("imports/", PROCESSING), ("exports/", PROCESSING),
    ("service/", PROCESSING),
)


def phase_of(relative_path: str) -> SuitePhase:
    """The phase of a test file, by its path under the tests folder ("drivers/modbus/test_modbus.py")."""
    for prefix, phase in RULES:
        if relative_path.startswith(prefix):
            return phase
    return PROCESSING


class _Item(Protocol):
    """What mark_items needs of a pytest item (the product does not import pytest)."""

    @property
    def path(self) -> Path: ...

    def add_marker(self, marker: str) -> None: ...


def mark_items(items: Iterable[_Item], tests_root: Path) -> None:
    """Give every collected item its phase's marker; `tests_root` is the folder the rules' paths start in."""
    root = tests_root.resolve()
    for item in items:
        try:
            relative = item.path.resolve().relative_to(root).as_posix()
        except ValueError:  # a test outside the folder (a plugin's own): by its file name alone
            relative = item.path.name
        item.add_marker(phase_of(relative).marker)
