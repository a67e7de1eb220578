"""Attaching to a running engine: the live plant pushed, commands run in the engine, and what happens
when the engine goes away. A real engine polls a real Modbus server and writes a real DuckDB store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oee_tui.model import MachineState
from oee_tui.model.access import Role
from oee_tui.service.client import AttachRefused, EngineClient, EngineLost, EngineRefused, NoEngine
from tests.service.conftest import Served, me, stop_m1
from tests.support.waiting import until


async def attach(data_dir: Path) -> EngineClient:
    return await EngineClient.attach(data_dir, origin="test")


async def test_nothing_serves_a_data_dir_without_an_engine(tmp_path: Path) -> None:
    with pytest.raises(NoEngine):
        await attach(tmp_path)


async def test_a_state_change_reaches_an_attached_client(served: Served) -> None:
    client = await attach(served.data_dir)
    try:
        assert client.pid > 0 and client.role == "admin"
        seen: list[MachineState] = []
        client.on_snapshot = lambda snapshot: seen.extend(m.state for m in snapshot.machines if m.machine == "M1")
        await client.subscribe()
        await served.device.set("hr", 1, [1])
        await until(lambda: bool(seen) and seen[-1] is MachineState.RUNNING, what="M1 running")
        await served.device.set("hr", 1, [3])
        await until(lambda: seen[-1] is MachineState.MINOR_STOP, what="M1 stopped")  # short: a minor stop
        latest = client.mirror.latest
        assert latest is not None and [m.machine for m in latest.machines] == ["M1", "M2"]
        assert latest == served.engine.snapshot() or latest.ts <= served.engine.snapshot().ts
    finally:
        await client.close()


async def test_a_stop_reason_given_through_the_engine_is_stored_with_who_gave_it(served: Served) -> None:
    client = await attach(served.data_dir)
    try:
        stop_start = await stop_m1(served)
        await client.call("set_stop_reason", machine="M1", stop_start=stop_start, reason="FAIL")
        detail = await client.call("machine_detail", machine="M1")
        assert [(s.reason, s.reason_by) for s in detail.stops if s.start == stop_start] == [("FAIL", me())]
        with pytest.raises(EngineRefused, match="unknown reason"):
            await client.call("set_stop_reason", machine="M1", stop_start=stop_start, reason="NOPE")
    finally:
        await client.close()


async def test_a_role_below_the_command_is_refused_in_the_engine(served: Served) -> None:
    served.access.roles[me()] = Role.OPERATOR
    client = await attach(served.data_dir)
    try:
        with pytest.raises(EngineRefused, match=r"may not .*needs the admin role") as refused:
            await client.call("store_backup")
        assert refused.value.code == "denied"
    finally:
        await client.close()


async def test_a_user_without_a_role_cannot_attach(served: Served) -> None:
    served.access.roles.clear()
    with pytest.raises(AttachRefused, match="has no role"):
        await attach(served.data_dir)


async def test_a_request_in_flight_when_the_engine_stops_is_not_confirmed(served: Served) -> None:
    client = await attach(served.data_dir)
    lost: list[str] = []
    client.on_lost = lost.append
    try:
        await served.server.close()
        await until(lambda: bool(lost), what="the client to notice")
        with pytest.raises(EngineLost, match="not sent"):
            await client.call("status")
    finally:
        await client.close()


async def test_status_names_sources_store_and_who_is_attached(served: Served) -> None:
    first, second = await attach(served.data_dir), await attach(served.data_dir)
    try:
        status = await first.call("status")
        assert [s.name for s in status["sources"]] == ["plc"]
        assert status["store_bytes"] > 0
        assert len(status["attached"]) == 2 and {a["user"] for a in status["attached"]} == {me()}
    finally:
        await first.close()
        await second.close()
        await asyncio.sleep(0)


async def test_changes_and_denials_through_the_engine_are_in_its_audit_trail(served: Served) -> None:
    client = await attach(served.data_dir)
    try:
        stop_start = await stop_m1(served)
        await client.call("set_stop_reason", machine="M1", stop_start=stop_start, reason="FAIL")
        served.access.roles[me()] = Role.OPERATOR
        operator = await attach(served.data_dir)
        with pytest.raises(EngineRefused):
            await operator.call("store_backup")
        with pytest.raises(EngineRefused, match="needs the supervisor role"):
            await operator.call("audit_list")
        await operator.close()
        listed = await client.call("audit_list")
        entries = {entry.kind: entry for entry in listed["entries"]}
        assert entries["stop_reason"].user == me() and entries["stop_reason"].origin == "test"
        assert entries["stop_reason"].after_value() == "FAIL" and entries["stop_reason"].before_value() is None
        assert entries["denied"].subject in ("store_backup", "audit_list")
        assert listed["head"][0] == len(listed["entries"]) == 3
        verdict = await client.call("audit_verify")
        assert verdict.ok and verdict.checked == 3
    finally:
        await client.close()


def test_the_config_an_attached_tui_gets_has_no_secrets_and_no_access_section() -> None:
    from oee_tui.service.live_ops import without_secrets

    text = without_secrets('[site]\nname = "P"\n[[sources]]\nname = "opc"\nusername = "u"\npassword = "s3cret"\n'
                           '[[sources]]\nname = "mq"\npassword_file = "%d/mq"\n'
                           '[edge]\npassword = "x"\n[access]\nsocket_group = "oee"\n')
    assert "s3cret" not in text and 'password = "x"' not in text and "[access]" not in text
    assert 'password_file = "%d/mq"' in text and 'username = "u"' in text
