"""Who is on the other end of a Unix socket, as the kernel says (SO_PEERCRED), never as the client says."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int
    user: str  # the uid's name, or the number when the system has no name for it
    groups: tuple[str, ...]  # the user's primary and supplementary groups, by name


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The process, user and groups of the peer of a connected AF_UNIX socket (Linux)."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    user, groups = user_and_groups(uid, gid)
    return PeerCredentials(pid, uid, gid, user, groups)


def user_and_groups(uid: int, gid: int) -> tuple[str, tuple[str, ...]]:
    """A uid's name and its groups' names: what [access] roles are written in."""
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid), (_group_name(gid),)
    try:
        gids = os.getgrouplist(user, gid)
    except OSError:
        gids = [gid]
    return user, tuple(dict.fromkeys(_group_name(g) for g in gids))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
