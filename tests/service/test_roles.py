"""The role matrix, enforced in the engine's handlers: every request against every role, over the real
socket to a real engine. A denied request is refused with words that say what is needed; an allowed one
is never refused for its role (it may still be refused for its arguments, which these calls leave out)."""

from __future__ import annotations

import pytest

from oee_tui.model.access import Role, minimum_role
from oee_tui.service.client import EngineClient, EngineRefused
from oee_tui.service.op_table import OPS
from tests.service.conftest import Served, me

# A request's arguments, left out or wrong on purpose: a role check comes before any of them is read.
NO_ARGS: dict[str, object] = {}


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.name.lower())
async def test_every_request_against_every_role(served: Served, role: Role) -> None:
    served.access.roles[me()] = role
    client = await EngineClient.attach(served.data_dir, origin="test")
    try:
        assert client.role == role.name.lower()
        for name, op in OPS.items():
            needed = minimum_role(op.action)
            denied = needed is not None and role < needed
            try:
                await client.call(name, **NO_ARGS)
            except EngineRefused as refused:
                if denied:
                    assert refused.code == "denied", (name, refused)
                    assert f"needs the {needed.name.lower()} role" in str(refused)  # type: ignore[union-attr]
                else:
                    assert refused.code != "denied", (name, role, refused)
            else:
                assert not denied, f"{name} ran for a {role.name.lower()}"
    finally:
        await client.close()


def test_the_matrix_is_the_documented_one() -> None:
    """What each role may do, as the README's table says (operator < maintenance < supervisor < admin)."""
    needs = {name: minimum_role(op.action) for name, op in OPS.items()}
    assert needs["set_stop_reason"] is Role.OPERATOR
    assert needs["save_config"] is Role.MAINTENANCE and needs["reload_config"] is Role.MAINTENANCE
    assert needs["import"] is Role.SUPERVISOR
    assert needs["store_backup"] is Role.ADMIN
    assert all(needs[name] is None for name in ("subscribe", "snapshot", "machine_detail", "status", "report",
                                                "dead_letters", "export", "planning"))
