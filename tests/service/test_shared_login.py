"""A shared login (every operator of a line logs in as one OS user) attaches as a person, with a PIN,
checked by the engine against the config's [access] people; the person is who the audit trail names."""

from __future__ import annotations

import pytest

from oee_tui.config.access import AccessSettings, Person
from oee_tui.config.pins import hash_pin
from oee_tui.model.access import Role
from oee_tui.service import server as server_module
from oee_tui.service.client import AttachRefused, EngineClient
from tests.service.conftest import Served, me, stop_m1

PIN = "4711"


@pytest.fixture
def shared(served: Served) -> Served:
    """This test's own OS user made a shared login with two people; the real [access] settings decide."""
    people = (Person(me(), "Maria Lopez", None, hash_pin(PIN, iterations=1000)),
              Person(me(), "Sam Berg", Role.SUPERVISOR, hash_pin("2468", iterations=1000)))
    access = AccessSettings(users={me(): Role.OPERATOR}, people=people)
    served.server._access = access
    return served


async def test_a_shared_login_must_say_who_with_a_pin(shared: Served) -> None:
    with pytest.raises(AttachRefused, match="shared login: give your name and PIN") as asked:
        await EngineClient.attach(shared.data_dir, origin="tty /dev/pts/3")
    assert asked.value.code == "person" and asked.value.people == ("Maria Lopez", "Sam Berg")
    with pytest.raises(AttachRefused, match="wrong name or PIN"):
        await EngineClient.attach(shared.data_dir, origin="tty /dev/pts/3", person="Maria Lopez", pin="0000")
    with pytest.raises(AttachRefused, match="wrong name or PIN"):
        await EngineClient.attach(shared.data_dir, origin="tty /dev/pts/3", person="Nobody", pin=PIN)

    maria = await EngineClient.attach(shared.data_dir, origin="tty /dev/pts/3", person="Maria Lopez", pin=PIN)
    sam = await EngineClient.attach(shared.data_dir, origin="tty /dev/pts/3", person="Sam Berg", pin="2468")
    try:
        assert (maria.hello["person"], maria.role) == ("Maria Lopez", "operator")  # the account's role
        assert sam.role == "supervisor"  # a role of her own
        stop = await stop_m1(shared)
        await maria.call("set_stop_reason", machine="M1", stop_start=stop, reason="FAIL")
        entries = (await sam.call("audit_list", kind="stop_reason"))["entries"]
        assert [entry.user for entry in entries] == [f"Maria Lopez ({me()})"]
    finally:
        await maria.close()
        await sam.close()


async def test_wrong_pins_stop_being_checked_for_a_while(shared: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(server_module.PIN_TRIES):
        with pytest.raises(AttachRefused, match="wrong name or PIN"):
            await EngineClient.attach(shared.data_dir, origin="test", person="Maria Lopez", pin="9999")
    with pytest.raises(AttachRefused, match="too many wrong PINs"):  # even the right one, for now
        await EngineClient.attach(shared.data_dir, origin="test", person="Maria Lopez", pin=PIN)
    later = shared.server.clock() + server_module.PIN_WINDOW_S + 1
    monkeypatch.setattr(shared.server, "clock", lambda: later)
    client = await EngineClient.attach(shared.data_dir, origin="test", person="Maria Lopez", pin=PIN)
    assert client.hello["person"] == "Maria Lopez"
    await client.close()
