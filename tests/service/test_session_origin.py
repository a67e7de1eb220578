"""Where a standalone session's person sits: SSH client address, terminal device, or local."""

from __future__ import annotations

import os
import subprocess
import sys

from oee_tui.service.session_origin import local_origin

PRINT_ORIGIN = "from oee_tui.service.session_origin import local_origin; print(local_origin(), flush=True)"


def test_an_ssh_session_names_the_client_address() -> None:
    assert local_origin({"SSH_CONNECTION": "10.1.2.3 52144 10.1.2.1 22"}, lambda: "/dev/pts/4") == "ssh 10.1.2.3"
    assert local_origin({"SSH_CLIENT": "fe80::1 52144 22"}, lambda: None) == "ssh fe80::1"
    # SSH_CONNECTION first: it is what sshd sets today; SSH_CLIENT is the older name.
    assert local_origin({"SSH_CONNECTION": "10.0.0.9 1 10.0.0.1 22", "SSH_CLIENT": "10.0.0.8 1 22"},
                        lambda: None) == "ssh 10.0.0.9"


def test_without_ssh_the_terminal_or_local() -> None:
    assert local_origin({"SSH_CONNECTION": ""}, lambda: "/dev/pts/7") == "tty /dev/pts/7"
    assert local_origin({}, lambda: None) == "local"


def _child(stdin: int | None, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", PRINT_ORIGIN], stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=env, text=True, check=True)
    return done.stdout.strip()


def test_a_real_terminal_is_named_by_its_device() -> None:
    # A real pseudo-terminal as the child's stdin, as a terminal login gives one.
    leader, follower = os.openpty()
    try:
        env = {key: value for key, value in os.environ.items() if not key.startswith("SSH_")}
        assert _child(follower, env) == f"tty {os.ttyname(follower)}"
        assert _child(subprocess.DEVNULL, env) == "local"
        assert _child(follower, {**env, "SSH_CONNECTION": "192.0.2.7 40000 192.0.2.1 22"}) == "ssh 192.0.2.7"
    finally:
        os.close(leader)
        os.close(follower)
