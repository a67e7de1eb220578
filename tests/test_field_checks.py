"""The checks the device forms run on every keystroke: what passes, and what is said about what does not."""

from __future__ import annotations

import pytest

from oee_tui import field_checks as checks
from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.drivers.modbus.modbus_source import check_modbus_address, check_modbus_type, default_type
from oee_tui.drivers.opcua.opcua_source import check_node_id
from oee_tui.drivers.registry import parse_config


@pytest.mark.parametrize("host", ["192.168.0.10", "10.0.0.1", "plc1", "plc-1.line2.plant.example", "PLC1.local.",
                                  "::1", "fe80::1", "2001:db8::10", "[2001:db8::10]"])
def test_good_hosts(host: str) -> None:
    assert checks.check_host(host) is None


@pytest.mark.parametrize(("host", "words"), [
    ("", "is required"),
    ("192.168.1", "not a valid IPv4 address"),
    ("10.0.0.256", "not a valid IPv4 address"),
    ("plc 1", "must not contain spaces"),
    (" plc1", "must not contain spaces"),
    ("-plc", "not a valid host name"),
    ("plc-.local", "not a valid host name"),
    ("plc_1", "not a valid host name"),
    ("plc..local", "not a valid host name"),
    ("2001:db8:::1", "not a valid IPv6 address"),
    ("192.168.0.10:502", "not a valid IPv6 address (put the port in the Port field)"),
])
def test_bad_hosts_say_why(host: str, words: str) -> None:
    problem = checks.check_host(host)
    assert problem is not None and words in problem


@pytest.mark.parametrize(("text", "problem"), [
    ("1", None), ("502", None), ("65535", None),
    ("0", "0 is out of range: must be from 1 to 65535"),
    ("65536", "65536 is out of range: must be from 1 to 65535"),
    ("", "must be a TCP port number from 1 to 65535"),
    ("50x", "must be a TCP port number from 1 to 65535"),
    ("5.0", "must be a TCP port number from 1 to 65535"),
])
def test_port(text: str, problem: str | None) -> None:
    assert checks.check_port(text) == problem


def test_rack_and_slot_ranges() -> None:
    assert checks.check_rack("0") is None and checks.check_rack("7") is None
    assert checks.check_rack("8") == "8 is out of range: must be from 0 to 7"
    assert checks.check_rack("-1") == "-1 is out of range: must be from 0 to 7"
    assert checks.check_slot("31") is None
    assert checks.check_slot("32") == "32 is out of range: must be from 0 to 31"
    assert checks.check_slot("one") == "must be the CPU's slot number from 0 to 31"


@pytest.mark.parametrize(("text", "ok"), [("01.00", True), ("03.01", True), ("4D.57", True), ("1.00", False),
                                          ("0100", False), ("01.0G", False), ("01.00.", False)])
def test_tsap(text: str, ok: bool) -> None:
    assert (checks.check_tsap(text) is None) is ok


@pytest.mark.parametrize(("url", "words"), [
    ("opc.tcp://192.168.0.20:4840/", None),
    ("opc.tcp://plc.local:4840/freeopcua/server/", None),
    ("opc.tcp://plc.local", None),
    ("opc.tcp://[::1]:4840", None),
    ("", "is required"),
    ("http://plc:4840", "must start with opc.tcp://"),
    ("opc.tcp://", "needs a host"),
    ("opc.tcp://plc:99999/", "port after the host"),
    ("opc.tcp://plc:0/", "port after the host"),
    ("opc.tcp://plc:abc/", "port after the host"),
    ("opc.tcp://10.0.0/", "not a valid IPv4 address"),
])
def test_endpoint(url: str, words: str | None) -> None:
    problem = checks.check_endpoint(url)
    if words is None:
        assert problem is None
    else:
        assert problem is not None and words in problem


@pytest.mark.parametrize(("text", "ok"), [("1", True), ("0.5", True), ("1e-3", True), ("0", False), ("-2", False),
                                          ("", False), ("fast", False), ("nan", False), ("inf", False)])
def test_positive_number(text: str, ok: bool) -> None:
    assert (checks.check_positive_number(text) is None) is ok


def test_source_name_must_be_new() -> None:
    assert checks.check_source_name("plc2", frozenset({"plc1"})) is None
    assert checks.check_source_name("plc1", frozenset({"plc1"})) == "another source is already called 'plc1'"
    assert checks.check_source_name("", frozenset()) is not None
    assert checks.check_source_name("plc1 ", frozenset()) == "must not start or end with a space"


# ---------------------------------------------------------------- tag maps


@pytest.mark.parametrize(("tag", "ok"), [("hr:0", True), ("ir:65535", True), ("co:7", True), ("di:12", True),
                                         ("hr:65536", False), ("hr:-1", False), ("hr100", False), ("40001", False),
                                         ("HR:1", False), ("xx:1", False), ("", False)])
def test_modbus_address(tag: str, ok: bool) -> None:
    assert (check_modbus_address(tag) is None) is ok


def test_modbus_types_fit_the_area() -> None:
    assert check_modbus_type("", "hr:1") is None  # default for the area
    assert check_modbus_type("float32", "hr:1") is None
    assert check_modbus_type("bool", "co:1") is None
    assert check_modbus_type("float64", "hr:1") == "must be one of bool, int16, uint16, int32, uint32, float32"
    assert check_modbus_type("uint16", "di:1") == "must be bool for a di: (single bit) address"
    assert "needs a co: or di: address" in str(check_modbus_type("bool", "ir:1"))
    assert default_type("co:1") == "bool" and default_type("hr:1") == "uint16"


@pytest.mark.parametrize(("node", "ok"), [
    ("ns=2;s=Line1.Filler.Count", True), ("ns=0;i=2258", True), ("i=85", True), ("ns=3;s=a;b=c", True),
    ("ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a", True), ("ns=2;b=M/RbKBsRVkePCePcx24oRA==", True),
    ("ns=2;i=abc", False), ("ns=2;i=4294967296", False), ("ns=70000;i=1", False), ("ns=2;g=not-a-guid", False),
    ("ns=2;s=", False), ("Line1.Count", False), ("ns=2,s=x", False), ("ns=2;x=1", False), ("", False),
])
def test_opcua_node_ids(node: str, ok: bool) -> None:
    assert (check_node_id(node) is None) is ok


def test_counter_width_only_for_counters() -> None:
    for width in ("16", "32", "64", ""):
        assert checks.check_width(width, "total_count") is None
    assert "16, 32 or 64" in str(checks.check_width("24", "reject_count"))
    assert "16, 32 or 64" in str(checks.check_width("x", "good_count"))
    assert checks.check_width("", "speed") is None
    assert "counters only" in str(checks.check_width("32", "state_code"))


def test_s7_addresses_use_the_drivers_parser() -> None:
    assert checks.check_tag("s7", "DB1.DBD0") is None
    assert checks.check_tag("s7", "MW10") is None
    assert checks.check_tag("s7", "DB1.DBX4.0") is None
    problem = checks.check_tag("s7", "ZZ1")
    assert problem is not None and "is not an S7 address" in problem
    # The type is checked against the address: a word cannot be read as a REAL.
    assert checks.check_tag_type("s7", "REAL", "DB1.DBW10") is not None
    assert checks.check_tag_type("s7", "REAL", "DB1.DBD10") is None
    assert checks.check_tag("s7", "") is not None


def test_logix_tag_names_use_the_drivers_check() -> None:
    assert checks.check_tag("logix", "Line1_Count") is None
    assert checks.check_tag("logix", "Program:Main.Count") is None
    assert checks.check_tag("logix", "Counts[3].Value") is None
    problem = checks.check_tag("logix", "1abc")
    assert problem is not None and "must start with a letter or _" in problem
    assert checks.check_tag("logix", "") is not None


def test_what_the_checks_accept_the_config_reader_accepts() -> None:
    """The forms must never pass a value that `oee` then refuses to start with."""
    for host in ("192.168.0.10", "plc-1.local", "::1"):
        for port in ("1", "502", "65535"):
            assert checks.check_host(host) is None and checks.check_port(port) is None
            config = parse_config(SAMPLE_CONFIG.replace('host = "192.0.2.10"\nport = 502',
                                                        f'host = "{host}"\nport = {port}'))
            assert config.source("plc1").port == int(port)
