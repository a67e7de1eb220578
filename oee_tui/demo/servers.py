"""The demo plant served over real protocols on loopback: Modbus/TCP, OPC UA and Siemens S7, one per line.

`oee --demo` runs the product's real drivers against these servers, so the
demo exercises the same path as a real plant: polling, subscriptions, counter
wraps, a machine without a state tag, a machine that reports good parts.

Register map of line 1 (Modbus/TCP, unit 1, holding registers, big-endian words):

    machine    state  total  reject  speed (float32)  product   fault coil
    L1-DEPAL   100*   101    102     103-104          105       co:0
    L1-FILL    110    111    112     113-114          115       co:1
    L1-CAP     120    121    122     123-124          125       co:2
    L1-LABEL   130    131    132     133-134          135       co:3

    * served but not mapped: the engine derives L1-DEPAL's state from its counts.
    hr:100-139 are all readable (unused ones read 0), so a driver may coalesce
    the whole range into one request.

Line 2 (OPC UA, namespace index 2, under Objects/L2/<Machine>):
    ns=2;s=L2.<Machine>.State (Int32), .Total (UInt32), .Reject or .Good (UInt32),
    .Speed (Double), .Product (String), .Fault (Boolean);
    <Machine> is Filler, Seamer, Pasteurizer or Packer. The Seamer reports good
    parts instead of rejects.

Line 3 (Siemens S7 via snap7's server, rack 0 slot 1, DB1): one 16-byte struct
per machine from byte 16 * slot, as a UDT array in a TIA Portal DB would be:

    offset  type  content
    +0      DINT  total count: counts modulo 2**32 and starts just below 2**31,
                  so the PLC value soon turns negative, as a real DINT does
    +4      INT   reject count (the low 16 bits of the reject counter)
    +6      INT   state code
    +8      REAL  speed, parts per minute
    +12     INT   product code
    +14.0   BOOL  fault (byte 15 is padding: S7 structs have an even length)

    so L3-CART (slot 0) is DB1.DBD0, DB1.DBW4, DB1.DBW6, DB1.DBD8:REAL,
    DB1.DBW12 and DB1.DBX14.0; L3-SEAL starts at DB1.DBD16, L3-PAL at DB1.DBD32.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final, Literal

from asyncua import ua
from asyncua.server.server import Server
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from snap7.server import Server as S7Server
from snap7.type import SrvArea

from oee_tui.config import Config
from oee_tui.demo.simulation import BreakCalendar, SimMachine, SimPlant
from oee_tui.drivers.base import settings_of
from oee_tui.drivers.opcua.opcua_source import OpcUaSource
from oee_tui.drivers.registry import config_from_dict
from oee_tui.drivers.s7.address import S7Value, parse_s7_address, store

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
MODBUS_SOURCE: Final = "demo-modbus"
OPCUA_SOURCE: Final = "demo-opcua"
S7_SOURCE: Final = "demo-s7"
MODBUS_UNIT: Final = 1
OPCUA_PATH: Final = "/oee-demo/"
OPCUA_NAMESPACE_URI: Final = "urn:oee-tui:demo-plant"
# The config is built before the OPC UA server exists, so it names this index;
# start() checks that registering our namespace really gives it.
OPCUA_NS: Final = 2

# Holding registers hr:REGISTER_START .. +REGISTER_COUNT-1 are served, one
# block of REGISTER_STRIDE per machine; fault coils start at co:0.
REGISTER_START: Final = 100
REGISTER_STRIDE: Final = 10
REGISTER_COUNT: Final = 40
STATE_OFFSET: Final = 0
TOTAL_OFFSET: Final = 1
REJECT_OFFSET: Final = 2
SPEED_OFFSET: Final = 3  # float32: two registers
PRODUCT_OFFSET: Final = 5
FAULT_COIL_START: Final = 0

# Line 3's DB: one struct per machine, S7_STRUCT_BYTES apart (see the module docstring).
S7_DB: Final = 1
S7_RACK: Final = 0
S7_SLOT: Final = 1  # an S7-1200/1500 CPU
S7_STRUCT_BYTES: Final = 16
# Field -> (size letter, byte offset in the struct, S7 type).
S7_FIELDS: Final[dict[str, tuple[str, int, str]]] = {
    "Total": ("D", 0, "DINT"),
    "Reject": ("W", 4, "INT"),
    "State": ("W", 6, "INT"),
    "Speed": ("D", 8, "REAL"),
    "Product": ("W", 12, "INT"),
    "Fault": ("X", 14, "BOOL"),
}

TICK_S: Final = 1.0
# After a suspend or a stalled loop, step at most this much at once: a long
# gap would otherwise come back as one burst of parts.
MAX_STEP_S: Final = 5.0

FC_COILS: Final = 1
FC_HOLDING: Final = 3


@dataclass(frozen=True, slots=True)
class DemoMachine:
    """One machine of the demo plant: how it is configured and where it is served."""

    id: str
    name: str
    line: str
    products: dict[int | str, float]  # product code -> ideal cycle time, s
    ideal_cycle_time_s: float
    slot: int  # modbus: block number (register block and fault coil); s7: struct number in DB1; opcua: unused
    opcua_name: str = ""  # opcua: browse name of the machine's object
    maps_state: bool = True  # False: only counters are mapped, the engine derives the state
    counts: Literal["reject", "good"] = "reject"  # which second counter the machine reports

    @property
    def base_register(self) -> int:
        return REGISTER_START + REGISTER_STRIDE * self.slot

    @property
    def fault_coil(self) -> int:
        return FAULT_COIL_START + self.slot

    @property
    def s7_base(self) -> int:
        """The byte in DB1 where this machine's struct starts."""
        return S7_STRUCT_BYTES * self.slot


# Line 1 bottles (product codes are numbers, as a PLC stores them); line 2 cans.
MODBUS_MACHINES: Final[tuple[DemoMachine, ...]] = (
    DemoMachine("L1-DEPAL", "Depalletizer", "L1", {101: 0.40, 102: 0.50, 103: 0.35}, 0.40, slot=0,
                maps_state=False),
    DemoMachine("L1-FILL", "Filler", "L1", {101: 0.45, 102: 0.60, 103: 0.40}, 0.45, slot=1),
    DemoMachine("L1-CAP", "Capper", "L1", {101: 0.42, 102: 0.55, 103: 0.38}, 0.42, slot=2),
    DemoMachine("L1-LABEL", "Labeller", "L1", {101: 0.50, 102: 0.65, 103: 0.45}, 0.50, slot=3),
)
OPCUA_MACHINES: Final[tuple[DemoMachine, ...]] = (
    DemoMachine("L2-FILL", "Can filler", "L2", {"CAN-330": 0.30, "CAN-500": 0.36, "CAN-250": 0.30}, 0.30,
                slot=0, opcua_name="Filler"),
    DemoMachine("L2-SEAM", "Seamer", "L2", {"CAN-330": 0.30, "CAN-500": 0.36, "CAN-250": 0.30}, 0.30,
                slot=1, opcua_name="Seamer", counts="good"),
    DemoMachine("L2-PAST", "Tunnel pasteurizer", "L2", {"CAN-330": 0.32, "CAN-500": 0.38, "CAN-250": 0.32}, 0.32,
                slot=2, opcua_name="Pasteurizer"),
    DemoMachine("L2-PACK", "Tray packer", "L2", {"CAN-330": 1.20, "CAN-500": 1.50, "CAN-250": 1.20}, 1.20,
                slot=3, opcua_name="Packer"),
)
# Line 3 packs the bottles into cartons, cases and pallets; product codes are INTs in the PLC.
S7_MACHINES: Final[tuple[DemoMachine, ...]] = (
    DemoMachine("L3-CART", "Cartoner", "L3", {301: 0.50, 302: 0.60, 303: 0.45}, 0.50, slot=0),
    DemoMachine("L3-SEAL", "Case sealer", "L3", {301: 1.20, 302: 1.40, 303: 1.10}, 1.20, slot=1),
    DemoMachine("L3-PAL", "Palletizer", "L3", {301: 1.40, 302: 1.50, 303: 1.30}, 1.40, slot=2),
)
DEMO_MACHINES: Final = MODBUS_MACHINES + OPCUA_MACHINES + S7_MACHINES
LINE_SOURCES: Final = {"L1": MODBUS_SOURCE, "L2": OPCUA_SOURCE, "L3": S7_SOURCE}
S7_DB_BYTES: Final = S7_STRUCT_BYTES * len(S7_MACHINES)


def opcua_node_id(machine: DemoMachine, variable: str, ns: int = OPCUA_NS) -> str:
    return f"ns={ns};s=L2.{machine.opcua_name}.{variable}"


def s7_tag(machine: DemoMachine, field_name: str) -> str:
    """The address of a field (a key of S7_FIELDS) of the machine's struct: DB1.DBW4, DB1.DBD8:REAL."""
    letter, offset, s7_type = S7_FIELDS[field_name]
    byte = machine.s7_base + offset
    text = f"DB{S7_DB}.DBX{byte}.0" if letter == "X" else f"DB{S7_DB}.DB{letter}{byte}"
    # canonical names the type only where it is not the size's default (DBD reads as DINT), as PLC listings do.
    return parse_s7_address(text, s7_type).canonical


# ---------------------------------------------------------------- configuration


def demo_config_dict(modbus_port: int, opcua_port: int, s7_port: int = 1102,
                     timezone: str = "Europe/Berlin") -> dict[str, Any]:
    """The demo plant's config as a TOML file would hold it (tables, arrays, strings, numbers)."""
    return {
        "site": {"name": "Demo Works", "timezone": timezone},
        "lines": [
            {"id": "L1", "name": "Bottling", "area": "Hall A"},
            {"id": "L2", "name": "Canning", "area": "Hall B"},
            {"id": "L3", "name": "Packaging", "area": "Hall C"},
        ],
        "sources": [
            {"name": MODBUS_SOURCE, "kind": "modbus", "host": HOST, "port": modbus_port, "unit_id": MODBUS_UNIT,
             "poll_interval_s": 1.0, "reconnect_min_s": 0.5, "reconnect_max_s": 5.0},
            {"name": OPCUA_SOURCE, "kind": "opcua", "endpoint": f"opc.tcp://{HOST}:{opcua_port}{OPCUA_PATH}",
             "publishing_interval_ms": 500, "reconnect_min_s": 0.5, "reconnect_max_s": 5.0},
            {"name": S7_SOURCE, "kind": "s7", "host": HOST, "port": s7_port, "rack": S7_RACK, "slot": S7_SLOT,
             "poll_interval_s": 1.0, "reconnect_min_s": 0.5, "reconnect_max_s": 5.0},
        ],
        "machines": [_machine_entry(machine) for machine in DEMO_MACHINES],
        "shifts": [
            {"name": "Early", "start": "06:00", "end": "14:00", "breaks": [{"start": "09:30", "end": "09:45"}]},
            {"name": "Late", "start": "14:00", "end": "22:00", "breaks": [{"start": "18:00", "end": "18:30"}]},
            {"name": "Night", "start": "22:00", "end": "06:00", "breaks": [{"start": "02:00", "end": "02:20"}]},
        ],
        "reasons": [
            {"code": "BREAK", "name": "Break", "planned": True},
            {"code": "PM", "name": "Planned maintenance", "planned": True},
            {"code": "CLEAN", "name": "Cleaning", "planned": True},
            {"code": "FAIL", "name": "Failure", "loss": "breakdown"},
            {"code": "FAIL.MECH", "name": "Mechanical failure", "parent": "FAIL", "loss": "breakdown"},
            {"code": "FAIL.ELEC", "name": "Electrical failure", "parent": "FAIL", "loss": "breakdown"},
            {"code": "FAIL.JAM", "name": "Jam needing maintenance", "parent": "FAIL", "loss": "breakdown"},
            {"code": "SETUP", "name": "Setup / changeover", "loss": "setup"},
            {"code": "MINOR", "name": "Minor stop", "loss": "minor_stop"},
            {"code": "MATERIAL", "name": "Waiting for material", "loss": "breakdown"},
            {"code": "QUALITY", "name": "Quality hold", "loss": "breakdown"},
        ],
        # A few rules, so that a new user sees the alerts at work (F5, the header's count) in the first
        # minutes: the early breakdown soon passes two minutes.
        "alerts": {"rules": [
            {"id": "down-2", "kind": "machine_down", "severity": "critical", "for_min": 2},
            {"id": "no-reason-5", "kind": "stop_without_reason", "severity": "warning", "for_min": 5},
            {"id": "offline", "kind": "source_offline", "severity": "critical", "for_s": 10},
        ]},
    }


def _machine_entry(machine: DemoMachine) -> dict[str, Any]:
    # Aim at 85 % of the ideal rate, rounded as a planner would.
    target = round(3600.0 / machine.ideal_cycle_time_s * 0.85, -1)
    return {
        "id": machine.id,
        "name": machine.name,
        "line": machine.line,
        "ideal_cycle_time_s": machine.ideal_cycle_time_s,
        "micro_stop_threshold_s": 120.0,
        "target_per_hour": target,
        # TOML keys are strings: the engine reads Modbus product 101 as "101".
        "product_cycle_times": {str(code): seconds for code, seconds in machine.products.items()},
        "signals": _SIGNALS[LINE_SOURCES[machine.line]](machine),
    }


def _modbus_signals(machine: DemoMachine) -> dict[str, dict[str, Any]]:
    base = machine.base_register

    def register(offset: int, tag_type: str) -> dict[str, Any]:
        return {"source": MODBUS_SOURCE, "tag": f"hr:{base + offset}", "type": tag_type}

    signals: dict[str, dict[str, Any]] = {
        "total_count": {**register(TOTAL_OFFSET, "uint16"), "width": 16},
        "reject_count": {**register(REJECT_OFFSET, "uint16"), "width": 16},
    }
    if machine.maps_state:
        signals |= {
            "state_code": register(STATE_OFFSET, "uint16"),
            "speed": register(SPEED_OFFSET, "float32"),
            "product": register(PRODUCT_OFFSET, "uint16"),
            "fault": {"source": MODBUS_SOURCE, "tag": f"co:{machine.fault_coil}", "type": "bool"},
        }
    return signals


def _opcua_signals(machine: DemoMachine) -> dict[str, dict[str, Any]]:
    def node(variable: str) -> dict[str, Any]:
        return {"source": OPCUA_SOURCE, "tag": opcua_node_id(machine, variable)}

    second = ("good_count", "Good") if machine.counts == "good" else ("reject_count", "Reject")
    return {
        "state_code": node("State"),
        "total_count": {**node("Total"), "width": 32},
        second[0]: {**node(second[1]), "width": 32},
        "speed": node("Speed"),
        "product": node("Product"),
        "fault": node("Fault"),
    }


def _s7_signals(machine: DemoMachine) -> dict[str, dict[str, Any]]:
    def field(name: str) -> dict[str, Any]:
        return {"source": S7_SOURCE, "tag": s7_tag(machine, name)}

    return {
        "state_code": field("State"),
        # Widths as the PLC's types: the DINT and the INT wrap (to negative values) at 32 and 16 bits.
        "total_count": {**field("Total"), "width": 32},
        "reject_count": {**field("Reject"), "width": 16},
        "speed": field("Speed"),
        "product": field("Product"),
        "fault": field("Fault"),
    }


_SIGNALS: Final = {MODBUS_SOURCE: _modbus_signals, OPCUA_SOURCE: _opcua_signals, S7_SOURCE: _s7_signals}


def demo_config(modbus_port: int = 5020, opcua_port: int = 4840, s7_port: int = 1102,
                timezone: str = "Europe/Berlin") -> Config:
    """The demo plant's validated config. Without ports it names placeholders (enough for reports)."""
    return config_from_dict(demo_config_dict(modbus_port, opcua_port, s7_port, timezone), "<demo>")


def break_calendar(config: Config) -> BreakCalendar:
    breaks = [(b.start, b.end) for shift in config.shifts for b in shift.breaks]
    return BreakCalendar(breaks, config.site.timezone)


# A new user sees every kind of loss within the demo's first minutes, whatever the seed: a breakdown and a
# changeover on machines of two lines (seconds of running); the random events come on top, as before.
EARLY_BREAKDOWN: Final = ("L1-CAP", 40.0)
EARLY_CHANGEOVER: Final = ("L2-SEAM", 70.0)


def build_simulation(config: Config, seed: int) -> SimPlant:
    """The simulated machines; each gets its own random stream so one machine never shifts another's."""
    # Counter widths as each line's PLC holds them: Modbus words, OPC UA UInt32, S7 DINT (signed).
    machines = [
        SimMachine(machine.id, machine.products, 16 if machine.line == "L1" else 32,
                   random.Random(f"{seed}:{machine.id}"), signed=machine.line == "L3")
        for machine in DEMO_MACHINES
    ]
    plant = SimPlant(machines, break_calendar(config))
    plant[EARLY_BREAKDOWN[0]].plan_breakdown(EARLY_BREAKDOWN[1])
    plant[EARLY_CHANGEOVER[0]].plan_changeover(EARLY_CHANGEOVER[1])
    return plant


# ---------------------------------------------------------------- servers


def _free_ports(count: int) -> list[int]:
    """Ports the OS calls free now. All sockets stay open until all are read, so the ports differ."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def float32_registers(value: float) -> list[int]:
    """Big-endian float32 as two registers, high word first (the source's default byte and word order)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


def _modbus_device(simulation: SimPlant) -> SimDevice:
    # Separate blocks (coils, discrete inputs, holding, input): coils are then
    # addressed bit by bit, as PLCs do. pymodbus wants every block non-empty.
    holding = [0] * REGISTER_COUNT
    for machine in MODBUS_MACHINES:
        offset = machine.base_register - REGISTER_START
        holding[offset:offset + REGISTER_STRIDE] = _machine_registers(simulation[machine.id])
    faults = [simulation[machine.id].fault for machine in MODBUS_MACHINES]
    return SimDevice(
        id=MODBUS_UNIT,
        simdata=(
            [SimData(FAULT_COIL_START, values=faults + [False] * (16 - len(faults)), datatype=DataType.BITS)],
            [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
            [SimData(REGISTER_START, values=holding, datatype=DataType.REGISTERS)],
            [SimData(0, values=0, datatype=DataType.REGISTERS)],
        ),
    )


def _machine_registers(sim: SimMachine) -> list[int]:
    """One machine's register block, REGISTER_STRIDE long, in the order of the register map."""
    block = [0] * REGISTER_STRIDE
    block[STATE_OFFSET] = sim.state_code
    block[TOTAL_OFFSET] = sim.total & 0xFFFF
    block[REJECT_OFFSET] = sim.reject & 0xFFFF
    block[SPEED_OFFSET:SPEED_OFFSET + 2] = float32_registers(sim.speed)
    block[PRODUCT_OFFSET] = int(sim.product) & 0xFFFF
    return block


def _signed(value: int, bits: int) -> int:
    """An unsigned counter value as the signed PLC type of that width holds it (two's complement)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _s7_struct(sim: SimMachine) -> dict[str, S7Value]:
    """One machine's struct fields, as S7_FIELDS names them, in the PLC's types."""
    return {
        "Total": _signed(sim.total, 32),
        "Reject": _signed(sim.reject, 16),
        "State": sim.state_code,
        "Speed": float(sim.speed),
        "Product": int(sim.product),
        "Fault": sim.fault,
    }


# Parsed once: the tick encodes every field of every L3 machine each second.
_S7_ADDRESSES: Final = {
    machine.id: {name: parse_s7_address(s7_tag(machine, name)) for name in S7_FIELDS} for machine in S7_MACHINES
}


def s7_db_image(simulation: SimPlant) -> bytearray:
    """DB1 as the PLC holds it now: every L3 machine's struct, S7-encoded (big-endian)."""
    image = bytearray(S7_DB_BYTES)
    for machine in S7_MACHINES:
        addresses = _S7_ADDRESSES[machine.id]
        for name, value in _s7_struct(simulation[machine.id]).items():
            store(addresses[name], image, value)
    return image


@dataclass(frozen=True, slots=True)
class _OpcuaMachineNodes:
    machine: DemoMachine
    values: dict[str, tuple[ua.NodeId, ua.VariantType]]  # variable name -> node, type


class DemoPlant:
    """The simulated plant and its three protocol servers.

    Modbus and OPC UA run in the caller's event loop; snap7's S7 server runs in
    threads of its own and reads DB1 from a bytearray that the tick rewrites.
    The config (with the ports) exists as soon as the object does, so the engine
    and UI can start while `start()` still waits on asyncua's ~2 s set-up; the
    drivers reconnect until the servers answer. A DemoPlant starts once.
    """

    def __init__(self, seed: int = 7, timezone: str = "Europe/Berlin") -> None:
        self.seed = seed
        # Ports are picked now (bind to 0, read, close) so the config is final
        # before any server runs. Another process could take one in between; on
        # loopback that is rare, and start() then fails with a clear error.
        self.modbus_port, self.opcua_port, self.s7_port = _free_ports(3)
        self.timezone = timezone
        self.config: Config = demo_config(self.modbus_port, self.opcua_port, self.s7_port, timezone)
        self.simulation: SimPlant = build_simulation(self.config, seed)
        self.endpoint = settings_of(self.config.source(OPCUA_SOURCE), OpcUaSource).endpoint
        self.ready = asyncio.Event()  # set once all three servers serve
        self.ticks = 0  # simulation steps published so far
        self._modbus: ModbusTcpServer | None = None
        self._opcua: Server | None = None
        self._opcua_started = False
        self._opcua_nodes: list[_OpcuaMachineNodes] = []
        self._s7: S7Server | None = None
        # DB1 as registered with the S7 server: the server's threads read it live, so
        # the tick rewrites it in place (never rebinds it).
        self.s7_db = s7_db_image(self.simulation)
        self._tick_task: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        self._stop_lock: asyncio.Lock | None = None

    def config_text(self) -> str:
        """The demo's config as a TOML file would hold it, with this run's ports (for the device screen)."""
        import tomlkit  # only the device screen asks

        return tomlkit.dumps(demo_config_dict(self.modbus_port, self.opcua_port, self.s7_port, self.timezone))

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the three servers and the 1 Hz simulation; returns once all serve.

        Cancel-safe: whatever was started is stopped by `stop()`. On failure
        the plant stops itself and re-raises.
        """
        if self._closed:
            raise RuntimeError("this DemoPlant was stopped; make a new one")
        if self._started:
            await self.ready.wait()
            return
        self._started = True
        try:
            await self._start_modbus()
            self._start_s7()
            # Lines 1 and 3 come alive at once; line 2 joins when asyncua is up.
            self._tick_task = asyncio.create_task(self._tick_forever(), name="demo-plant-tick")
            await self._start_opcua()
        except BaseException:
            await self.stop()
            raise
        if not self._closed:
            self.ready.set()
            log.info("demo plant serving: modbus on %s:%d, s7 on %s:%d, opc ua at %s",
                     HOST, self.modbus_port, HOST, self.s7_port, self.endpoint)

    def stopping(self) -> bool:
        """Whether stop() has been called; asked again after an await, which may have let it run."""
        return self._closed

    async def stop(self) -> None:
        """Stop the simulation and the servers, freeing the ports. Safe to call twice or before start."""
        if self._stop_lock is None:
            self._stop_lock = asyncio.Lock()
        async with self._stop_lock:
            self._closed = True
            self.ready.clear()
            task, self._tick_task = self._tick_task, None
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            modbus, self._modbus = self._modbus, None
            if modbus is not None:
                await modbus.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
            s7, self._s7 = self._s7, None
            if s7 is not None:
                # stop() closes the listener at once, then joins the server's threads
                # (up to ~1 s for a client that stays connected): off the event loop.
                await asyncio.to_thread(s7.stop)
            opcua, self._opcua = self._opcua, None
            if opcua is not None and self._opcua_started:
                self._opcua_started = False
                await opcua.stop()
            self._opcua_nodes = []

    async def _start_modbus(self) -> None:
        server = ModbusTcpServer(_modbus_device(self.simulation), address=(HOST, self.modbus_port))
        self._modbus = server
        # background=True returns once listening; the server lives in the event loop.
        await server.serve_forever(background=True)

    def _start_s7(self) -> None:
        # snap7's server sets SO_REUSEPORT, so a second server on our port would
        # share it silently instead of failing. A plain bind first fails loudly,
        # as the Modbus and OPC UA servers do, if anything listens there already.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, self.s7_port))
            except OSError as exc:
                raise OSError(exc.errno, f"demo S7 server: port {self.s7_port} on {HOST} is taken") from exc
        self.s7_db[:] = s7_db_image(self.simulation)  # the plant as it is now, before the first tick
        server = S7Server(log=False)
        server.register_area(SrvArea.DB, S7_DB, self.s7_db)
        server.start_to(HOST, self.s7_port)  # binds and starts its accept thread; returns at once
        self._s7 = server

    async def _start_opcua(self) -> None:
        server = Server()
        self._opcua = server
        await server.init()  # ~1.8 s, yields to the loop now and then (measured: <0.15 s stalls)
        if self._closed:  # stop() ran while init was in progress
            return
        server.set_endpoint(self.endpoint)
        server.set_server_name("oee-tui demo plant")
        # Loopback demo: no certificates, anonymous only. Offering only these
        # also keeps asyncua from warning about plaintext passwords.
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        ns = await server.register_namespace(OPCUA_NAMESPACE_URI)
        if ns != OPCUA_NS:
            raise RuntimeError(f"OPC UA namespace {OPCUA_NAMESPACE_URI} got index {ns}; the config names {OPCUA_NS}")
        await self._build_address_space(server)
        await server.start()
        self._opcua_started = True
        if self.stopping():  # stop() ran while the server was starting
            self._opcua_started = False
            await server.stop()

    async def _build_address_space(self, server: Server) -> None:
        line = await server.nodes.objects.add_object(ua.NodeId(ua.String("L2"), ua.Int16(OPCUA_NS)),
                                                     ua.QualifiedName("L2", OPCUA_NS))
        self._opcua_nodes = []
        for machine in OPCUA_MACHINES:
            obj = await line.add_object(ua.NodeId(ua.String(f"L2.{machine.opcua_name}"), ua.Int16(OPCUA_NS)),
                                        ua.QualifiedName(machine.opcua_name, OPCUA_NS))
            values: dict[str, tuple[ua.NodeId, ua.VariantType]] = {}
            for variable, variant_type, initial in self._opcua_values(machine):
                node_id = ua.NodeId(ua.String(f"L2.{machine.opcua_name}.{variable}"), ua.Int16(OPCUA_NS))
                await obj.add_variable(node_id, ua.QualifiedName(variable, OPCUA_NS),
                                       ua.Variant(initial, variant_type))
                values[variable] = (node_id, variant_type)
            self._opcua_nodes.append(_OpcuaMachineNodes(machine, values))

    def _opcua_values(self, machine: DemoMachine) -> list[tuple[str, ua.VariantType, object]]:
        sim = self.simulation[machine.id]
        second = ("Good", sim.good) if machine.counts == "good" else ("Reject", sim.reject)
        return [
            ("State", ua.VariantType.Int32, sim.state_code),
            ("Total", ua.VariantType.UInt32, sim.total),
            (second[0], ua.VariantType.UInt32, second[1]),
            ("Speed", ua.VariantType.Double, float(sim.speed)),
            ("Product", ua.VariantType.String, str(sim.product)),
            ("Fault", ua.VariantType.Boolean, sim.fault),
        ]

    # ------------------------------------------------------------ ticking

    async def _tick_forever(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        deadline = last
        while True:
            # Aim at fixed deadlines so the plant keeps 1 Hz without drifting.
            deadline += TICK_S
            delay = deadline - loop.time()
            if delay < 0:  # fell behind (suspend, stall): start afresh
                deadline, delay = loop.time(), 0.0
            await asyncio.sleep(delay)
            now = loop.time()
            dt, last = min(now - last, MAX_STEP_S), now
            self.simulation.step(time.time(), dt)
            try:
                await self._publish()
            except Exception:
                # A server hiccup must not kill the plant; the next tick writes again.
                log.exception("demo plant: publishing values failed")
            self.ticks += 1

    async def _publish(self) -> None:
        modbus = self._modbus
        if modbus is not None:
            for machine in MODBUS_MACHINES:
                registers = _machine_registers(self.simulation[machine.id])[:PRODUCT_OFFSET + 1]
                await modbus.async_setValues(MODBUS_UNIT, FC_HOLDING, machine.base_register, registers)
            faults = [self.simulation[machine.id].fault for machine in MODBUS_MACHINES]
            await modbus.async_setValues(MODBUS_UNIT, FC_COILS, FAULT_COIL_START, faults)
        s7 = self._s7
        if s7 is not None:
            image = s7_db_image(self.simulation)
            # One copy under the server's own area lock, which it holds while it
            # answers a read: a client never sees half of one tick and half of the next.
            s7.lock_area(SrvArea.DB, S7_DB)
            try:
                self.s7_db[:] = image
            finally:
                s7.unlock_area(SrvArea.DB, S7_DB)
        server = self._opcua
        if server is not None and self._opcua_started:
            stamp = ua.DateTime.now(UTC)
            for nodes in self._opcua_nodes:
                for variable, _type, value in self._opcua_values(nodes.machine):
                    node_id, variant_type = nodes.values[variable]
                    data = ua.DataValue(ua.Variant(value, variant_type), SourceTimestamp=stamp, ServerTimestamp=stamp)
                    await server.write_attribute_value(node_id, data)
