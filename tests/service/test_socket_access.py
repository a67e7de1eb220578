"""Who may connect to the engine's socket: the socket's mode and group decide, and the user is the one
the kernel names (SO_PEERCRED). Real OS users: the tests create a throwaway user and group, so they need
root; without it they are skipped, and say why."""

from __future__ import annotations

import asyncio
import dataclasses
import grp
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import msgpack
import pytest
import pytest_asyncio

from oee_tui.engine.live.engine import Engine
from oee_tui.model.access import Role
from oee_tui.service.server import EngineServer
from oee_tui.service.socket_path import socket_path
from oee_tui.store import Store
from tests.service.conftest import Roles, me, plant_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating a throwaway OS user and group needs root")

USER = "oee-test-stranger"
GROUP = "oee-test-socket"


@pytest.fixture(scope="module")
def stranger() -> Iterator[pwd.struct_passwd]:
    """A user in no group of ours, and the group the socket is given (the user is added to it per test)."""
    subprocess.run(["groupadd", "-f", GROUP], check=True)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", USER], check=True)
    try:
        yield pwd.getpwnam(USER)
    finally:
        subprocess.run(["userdel", USER], check=False)
        subprocess.run(["groupdel", GROUP], check=False)


@pytest_asyncio.fixture
async def open_dir() -> AsyncIterator[Path]:
    """A data dir others may pass through (the tests' tmp dirs are 0700): only the socket decides."""
    folder = Path(tempfile.mkdtemp(prefix="oee-sock-", dir="/tmp"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def as_user(user: pwd.struct_passwd, groups: list[int], work: Callable[[], str]) -> str:
    """Run `work` in a child process that is `user` (with `groups`), as a second login on the box would be.
    Waited for in a thread: the engine answering it runs on this test's loop."""
    return await asyncio.to_thread(_as_user, user, groups, work)


def _as_user(user: pwd.struct_passwd, groups: list[int], work: Callable[[], str]) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the user, do the one thing, say what happened
        try:
            os.setgroups(groups)
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            said = work()
        except BaseException as exc:
            said = f"error: {exc!r}"
        os.write(write, said.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    return said


def hello(path: Path) -> Callable[[], str]:
    def attempt() -> str:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except PermissionError:
            return "permission"
        sock.sendall(msgpack.packb({"id": 0, "op": "hello", "args": {"origin": "test"}}))
        unpacker = msgpack.Unpacker(raw=False)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return "hung up"
            unpacker.feed(chunk)
            for answer in unpacker:
                return json.dumps({"ok": answer["ok"], "code": answer.get("code"),
                                   "user": (answer.get("result") or {}).get("user")})
    return attempt


async def serve(data_dir: Path, access: Roles) -> tuple[Engine, EngineServer]:
    engine = Engine(dataclasses.replace(plant_config(), sources=()), Store.open(data_dir), tick_s=0.05)
    server = EngineServer(engine, access, data_dir=data_dir, config_path=None)
    await engine.start()
    await server.start()
    return engine, server


async def test_a_user_outside_the_socket_group_cannot_connect(stranger: pwd.struct_passwd, open_dir: Path) -> None:
    engine, server = await serve(open_dir, Roles({me(): Role.ADMIN, USER: Role.ADMIN}, socket_group=GROUP))
    try:
        mode = os.stat(socket_path(open_dir))
        assert stat.S_IMODE(mode.st_mode) == 0o660 and mode.st_gid == grp.getgrnam(GROUP).gr_gid
        # A role in [access] is not enough: the socket's group decides who may connect at all.
        assert await as_user(stranger, [], hello(socket_path(open_dir))) == "permission"
    finally:
        await server.close()
        await engine.stop()


async def test_a_user_of_the_group_is_named_by_the_kernel_and_needs_a_role(stranger: pwd.struct_passwd,
                                                                          open_dir: Path) -> None:
    access = Roles({me(): Role.ADMIN}, socket_group=GROUP)
    engine, server = await serve(open_dir, access)
    group = [grp.getgrnam(GROUP).gr_gid]
    try:
        refused = json.loads(await as_user(stranger, group, hello(socket_path(open_dir))))
        assert refused == {"ok": False, "code": "denied", "user": None}
        access.roles[USER] = Role.OPERATOR
        attached = json.loads(await as_user(stranger, group, hello(socket_path(open_dir))))
        assert attached == {"ok": True, "code": None, "user": USER}
    finally:
        await server.close()
        await engine.stop()


async def test_without_a_group_only_the_owner_may_connect(stranger: pwd.struct_passwd, open_dir: Path) -> None:
    engine, server = await serve(open_dir, Roles({me(): Role.ADMIN, USER: Role.ADMIN}))
    try:
        assert stat.S_IMODE(os.stat(socket_path(open_dir)).st_mode) == 0o600
        assert await as_user(stranger, [grp.getgrnam(GROUP).gr_gid], hello(socket_path(open_dir))) == "permission"
    finally:
        await server.close()
        await engine.stop()
