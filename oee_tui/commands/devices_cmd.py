"""`oee devices list|test|browse|trust|certificates`: the configured sources, whether they answer, what they
offer, and the OPC-UA certificates. With an engine serving the data dir, list, test and browse run in it
(it holds the sources' passwords, and the demo's devices)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, load_for_run, print_rows, store_dir_of

if TYPE_CHECKING:
    from oee_tui.device_checks import SourceCheck
    from oee_tui.drivers.base import BrowseEntry, TagReading
    from oee_tui.service.client import EngineClient


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    devices = sub.add_parser("devices", parents=[common], help="list, test and browse the configured sources")
    devices_sub = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    devices_sub.add_parser("list", parents=[common], help="every source, whether it answers, and what it feeds")
    trust = devices_sub.add_parser("trust", parents=[common],
                                   help="trust the OPC-UA server certificate a source was refused for")
    trust.add_argument("name", help="the source's name, or the certificate's SHA-1/SHA-256 thumbprint")
    devices_sub.add_parser("certificates", parents=[common], help="this client's and the servers' certificates")
    test = devices_sub.add_parser("test", parents=[common], help="read every mapped tag of a source once")
    test.add_argument("name", help="the source's name in the config")
    browse = devices_sub.add_parser("browse", parents=[common],
                                    help="what a source offers: OPC-UA nodes, Logix tags, Sparkplug metrics")
    browse.add_argument("name", help="the source's name in the config")
    browse.add_argument("parent", nargs="?", help="a node id or tag to list the children of (default: the top)")
    devices.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    import asyncio

    from oee_tui import device_checks
    from oee_tui.commands.attached import in_engine

    if args.devices_command in ("trust", "certificates"):
        if args.demo:
            print("oee devices: the demo's servers make their certificates anew at each start", file=sys.stderr)
            return EXIT_USAGE
        return _certificates_command(args, config_path)
    # With an engine running, the engine reaches the devices: it holds their passwords, and the demo's.
    done = in_engine(store_dir_of(args, data_dir), f"oee devices {args.devices_command}",
                     lambda client: _devices_attached(client, args))
    if done is not None:
        return done
    if args.demo:
        print("oee devices: the demo's devices exist only while `oee --demo` or `oee engine --demo` runs; "
              "give a config with --config", file=sys.stderr)
        return EXIT_USAGE
    config = load_for_run(config_path)
    if args.devices_command == "list":
        return _show_checks(asyncio.run(device_checks.check_all(config)), device_checks.edge_summary(config))
    try:
        source = device_checks.source_named(config, args.name)
    except LookupError as exc:
        print(f"oee devices: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.devices_command == "test":
            return _show_readings(asyncio.run(device_checks.test_source(config, source)))
        return _show_browsed(asyncio.run(device_checks.browse_source(config, source, args.parent)))
    except NotImplementedError as exc:
        print(f"oee devices: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the device's own words, not a traceback
        print(f"oee devices: {source.name} ({device_checks.address_of(source)}): {device_checks.describe_error(exc)}",
              file=sys.stderr)
        return EXIT_FAILURE


async def _devices_attached(client: EngineClient, args: argparse.Namespace) -> int:
    if args.devices_command == "list":
        answer = await client.call("devices_list")
        return _show_checks(answer["checks"], answer["edge"])
    if args.devices_command == "test":
        return _show_readings(await client.call("device_test", name=args.name))
    return _show_browsed(await client.call("device_browse", name=args.name, parent=args.parent))


def _show_checks(checks: Sequence[SourceCheck], edge: str | None) -> int:
    rows: list[tuple[str, ...]] = [("source", "kind", "address", "tags", "status", "feeds")]
    for check in checks:
        status = f"ok {check.connect_s * 1000:.0f} ms" if check.connected and check.connect_s is not None \
            else f"DOWN: {check.error}"
        rows.append((check.name, check.kind, check.address, str(check.tags), status, " ".join(check.machines)))
    print_rows(rows)
    if edge is not None:
        print(edge)
    return EXIT_OK if all(check.connected for check in checks) else EXIT_FAILURE


def _show_readings(readings: Sequence[TagReading]) -> int:
    rows: list[tuple[str, ...]] = [("tag", "value", "type", "quality", "latency", "error")]
    rows += [(r.tag, repr(r.value) if isinstance(r.value, str) else str(r.value), r.type, r.quality.value,
              f"{r.latency_s * 1000:.1f} ms", r.error or "") for r in readings]
    print_rows(rows)
    return EXIT_OK if all(r.quality.value == "good" for r in readings) else EXIT_FAILURE


def _show_browsed(entries: Sequence[BrowseEntry]) -> int:
    listing: list[tuple[str, ...]] = [("id", "name", "type", "")]
    print_rows(listing + [(e.id, e.name, e.type or "", "+" if e.has_children else "") for e in entries])
    return EXIT_OK


def _certificates_command(args: argparse.Namespace, config_path: Path) -> int:
    from oee_tui.drivers.opcua.security import list_certificates, pki_dir_for, trust_rejected

    pki_dir = pki_dir_for(config_path)

    if args.devices_command == "trust":
        try:
            info = trust_rejected(pki_dir, args.name)
        except LookupError as exc:
            print(f"oee devices trust: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"trusted {info.subject} (SHA-256 {info.sha256}); it is in {info.path}")
        return EXIT_OK
    rows: list[tuple[str, ...]] = [("store", "source", "subject", "sha256", "expires")]
    rows += [(c.store, c.source or "", c.subject, c.sha256, f"{c.not_after:%Y-%m-%d}")
             for c in list_certificates(pki_dir)]
    print_rows(rows)
    return EXIT_OK
