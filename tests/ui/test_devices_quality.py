"""The Devices screen's data-quality column and the selected source's quality line: on fixed figures
(StaticEngine), and on a TUI attached to a real engine that counted crafted samples."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Static

from oee_tui.app import OeeApp
from oee_tui.drivers.registry import load_config
from oee_tui.model import TagSample
from oee_tui.screens.devices import DevicesScreen
from oee_tui.widgets.keyed_table import KeyedTable
from tests.support.pilot import settle, until
from tests.support.served_engine import attached_app, served_plant
from tests.ui.fakes import StaticEngine, frozen_clock
from tests.ui.test_devices import cursor_to, make_devices_app, open_devices, write_config


def _quality_cells(screen: DevicesScreen) -> dict[str, str]:
    table = screen.query_one("#sources", KeyedTable)
    return {key: table.get_cell(key, "quality").plain for key in table.shown_keys()}


def _detail(screen: DevicesScreen) -> str:
    rendered = screen.query_one("#device-detail", Static).render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


async def test_the_quality_column_and_the_selected_sources_line(tmp_path: Path) -> None:
    engine = StaticEngine()
    extra = '\n[[sources]]\nname = "ua"\nkind = "opcua"\nendpoint = "opc.tcp://192.0.2.20:4840/x"\n' \
            '\n[[sources]]\nname = "press3"\nkind = "s7"\nhost = "192.0.2.30"\nrack = 0\nslot = 1\n'
    app = make_devices_app(write_config(tmp_path, extra=extra), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_devices(pilot, engine)
        await until(pilot, lambda: _quality_cells(screen).get("plc1") != "—", "the figures read")
        # Completeness, then "ok" or ⚠ with the count of problems; n/a for a subscription with no expected
        # period; — for a source the engine has no figures of.
        assert _quality_cells(screen) == {"plc1": "95.0% ⚠3", "ua": "n/a ⚠1", "press3": "—"}
        assert _detail(screen).splitlines()[-1] == \
            "Quality this hour: 95.0% (3,420/3,600) · range 2 (hr:4 last 180.5) · dupl 1 · order 0 · skew n/a"
        await cursor_to(pilot, screen.table, "ua")
        await settle(pilot)
        assert _detail(screen).splitlines()[-1] == \
            "Quality this hour: n/a (40) · range 0 · dupl 0 · order 1 · skew +350 ms"
        await cursor_to(pilot, screen.table, "press3")
        await settle(pilot)
        assert "Quality this hour" not in _detail(screen)


async def test_attached_the_column_shows_the_engines_counters(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    (source, tag), *_ = sorted({(mapping.source, mapping.tag) for machine in config.machines
                                for mapping in machine.signals.values()})
    data_dir = tmp_path / "data"
    async with served_plant(data_dir, config) as plant:
        now = time.time()
        # The same sample three times: two duplicates; one older than it: out of order.
        plant.engine.ingest([TagSample(now, source, tag, 5)] * 3 + [TagSample(now - 10, source, tag, 4)])
        app: OeeApp = attached_app(data_dir, config, clock=frozen_clock, config_path=config_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine is not None and app.engine.snapshot().ts > 0, "attached")
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(app.screen, DevicesScreen), "the Devices screen")
            screen = app.screen
            assert isinstance(screen, DevicesScreen)
            app.show_snapshot(app.engine.snapshot())

            def shown() -> Any:
                return _quality_cells(screen).get(source, "").endswith("⚠3")

            await until(pilot, shown, "the engine's figures on the Devices screen")
            await cursor_to(pilot, screen.table, source)
            await settle(pilot)
            assert "dupl 2 · order 1" in _detail(screen)
