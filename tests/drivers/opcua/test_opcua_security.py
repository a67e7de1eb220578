"""OPC UA security and login against a real asyncua server on loopback.

One server per module (Server.init takes about 1.8 s) offers None, Basic256Sha256
Sign and Basic256Sha256 SignAndEncrypt, with a certificate made in the module's tmp
dir, and accepts anonymous, one user name and password, and one user certificate.
Every test gets its own PKI folder, so trust decisions never leak between tests.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Server, ua
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from oee_tui.drivers.base import DriverError
from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from oee_tui.drivers.opcua.security import (
    OWN_CERT,
    OWN_DIR,
    OWN_KEY,
    REJECTED_DIR,
    TRUSTED_DIR,
    UntrustedServerCertificate,
    ensure_client_certificate,
    list_certificates,
    thumbprints,
    trust_rejected,
)
from oee_tui.model import Quality
from tests.drivers.conftest import Collector, opcua_source, running, tag

pytestmark = pytest.mark.asyncio(loop_scope="module")

USER = "operator"
PASSWORD = "s3cret-Pa55-word"  # distinctive, so a leak into any log line is found
SERVER_URI = "urn:oee-tui:test:secure-server"
MODES = ("None", "Sign", "SignAndEncrypt")


def _self_signed(common_name: str, uri: str, usage: x509.ObjectIdentifier) -> tuple[bytes, bytes]:
    """(certificate DER, key PEM), the way an OPC UA application makes its own."""
    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key, common_name, {}, [x509.UniformResourceIdentifier(uri), x509.DNSName("localhost")],
        extended=[usage], days=2)
    return cert.public_bytes(serialization.Encoding.DER), cert_gen.dump_private_key_as_pem(key)


class Users(UserManager):
    """One user name and password, one user certificate; anonymous is let in too."""

    def __init__(self, user_cert_der: bytes) -> None:
        self.user_cert_der = user_cert_der
        self.logins: list[tuple[str, str]] = []  # (how, who) of each accepted login

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        if username is not None:
            if (username, password) != (USER, PASSWORD):
                return None
            self.logins.append(("password", username))
            return User(role=UserRole.User, name=username)
        # asyncua passes the user certificate for an X509 token, and the channel's client
        # certificate (or None) for an anonymous one.
        if certificate == self.user_cert_der:
            self.logins.append(("certificate", "line-lead"))
            return User(role=UserRole.User, name="line-lead")
        self.logins.append(("anonymous", ""))
        return User(role=UserRole.User)


class SecureSim:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server_der, self.server_key = _self_signed("oee test server", SERVER_URI, ExtendedKeyUsageOID.SERVER_AUTH)
        user_der, user_key = _self_signed("line-lead", "urn:oee-tui:test:user", ExtendedKeyUsageOID.CLIENT_AUTH)
        self.user_cert = folder / "user-cert.pem"
        self.user_cert.write_bytes(x509.load_der_x509_certificate(user_der).public_bytes(serialization.Encoding.PEM))
        self.user_key = folder / "user-key.pem"
        self.user_key.write_bytes(user_key)
        self.users = Users(user_der)
        self.server = Server(user_manager=self.users)
        self.port = 0
        self.node_id = ""

    async def start(self) -> None:
        server = self.server
        await server.init()
        await server.set_application_uri(SERVER_URI)
        server.set_endpoint("opc.tcp://127.0.0.1:0/secure/")
        await server.load_certificate(self.server_der)
        await server.load_private_key(self.server_key, None, "pem")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity,
                                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken, ua.X509IdentityToken])
        ns = await server.register_namespace("urn:oee-tui:test:secure")
        await server.nodes.objects.add_variable(ua.NodeId("Line4.Count", ns), "Count",
                                                ua.Variant(42, ua.VariantType.Int32))
        self.node_id = f"ns={ns};s=Line4.Count"
        await server.start()
        self.port = server.bserver.port

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/secure/"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureSim]:
    sim = SecureSim(tmp_path_factory.mktemp("secure-server"))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.server.stop()


@pytest.fixture(scope="module")
def client_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One client certificate for the module: RSA key generation costs 0.1 to 1 s each."""
    pki = tmp_path_factory.mktemp("client-pki")
    ensure_client_certificate(pki)
    return pki / OWN_DIR


@pytest.fixture
def pki(tmp_path: Path, client_pair: Path) -> Path:
    """A PKI folder with the module's client certificate and nothing trusted."""
    folder = tmp_path / "pki"
    shutil.copytree(client_pair, folder / OWN_DIR)
    return folder


def trust_server(pki: Path, sim: SecureSim) -> None:
    (pki / TRUSTED_DIR).mkdir(parents=True, exist_ok=True)
    (pki / TRUSTED_DIR / "test-server.der").write_bytes(sim.server_der)


def driver_for(sim: SecureSim, pki: Path, mode: str = "Sign", **overrides: Any) -> OpcUaDriver:
    settings: dict[str, Any] = {"security_mode": mode,
                                "security_policy": "None" if mode == "None" else "Basic256Sha256"}
    settings.update(overrides)
    return OpcUaDriver(opcua_source(sim.endpoint, **settings), [tag(sim.node_id, "ua")], pki_dir=pki)


async def receives_data(driver: OpcUaDriver) -> None:
    collector = Collector()
    async with running(driver, collector):
        sample = await collector.wait_for(lambda s: s.value == 42)
    assert sample.quality is Quality.GOOD


# ---------------------------------------------------------------- modes and server trust


@pytest.mark.parametrize("mode", MODES)
async def test_each_security_mode_receives_data(secure_server: SecureSim, pki: Path, mode: str) -> None:
    trust_server(pki, secure_server)
    driver = driver_for(secure_server, pki, mode)
    await receives_data(driver)
    await driver.connect()
    try:
        [reading] = await driver.read_once()
    finally:
        await driver.close()
    assert (reading.value, reading.type, reading.quality) == (42, "Int32", Quality.GOOD)
    assert secure_server.users.logins[-1] == ("anonymous", "")


async def test_untrusted_server_is_refused_until_trusted(secure_server: SecureSim, pki: Path) -> None:
    driver = driver_for(secure_server, pki, "SignAndEncrypt")
    with pytest.raises(DriverError) as refused:
        await driver.connect()
    await driver.close()
    sha1, sha256 = thumbprints(secure_server.server_der)
    # Its own type, so a screen can show the certificate and offer to trust it.
    assert isinstance(refused.value, UntrustedServerCertificate) and refused.value.certificate.sha1 == sha1
    message = str(refused.value)
    assert "not trusted" in message and sha1 in message and sha256 in message
    assert "oee devices trust ua" in message and f"127.0.0.1:{secure_server.port}" in message
    assert not (pki / TRUSTED_DIR).exists()
    [saved] = (pki / REJECTED_DIR).iterdir()
    assert saved.read_bytes() == secure_server.server_der and str(saved) in message
    stores = {(c.store, c.source, c.sha1) for c in list_certificates(pki)}
    assert ("rejected", "ua", sha1) in stores and any(store == "own" for store, _, _ in stores)

    # A second refusal keeps one copy, and nothing has been trusted behind the operator's back.
    with pytest.raises(DriverError, match="not trusted"):
        await driver.connect()
    await driver.close()
    assert len(list((pki / REJECTED_DIR).iterdir())) == 1

    trusted = trust_rejected(pki, "ua")
    assert trusted.store == "trusted" and trusted.sha256 == sha256 and trusted.source == "ua"
    assert list((pki / REJECTED_DIR).iterdir()) == []
    await receives_data(driver)


async def test_trust_by_thumbprint_and_unknown_names(secure_server: SecureSim, pki: Path) -> None:
    driver = driver_for(secure_server, pki, "Sign", name="press line 3")
    with pytest.raises(DriverError, match="oee devices trust 'press line 3'"):
        await driver.connect()
    await driver.close()
    with pytest.raises(LookupError, match="no rejected certificate"):
        trust_rejected(pki, "other-source")
    with pytest.raises(LookupError):
        trust_rejected(pki, "AB")  # too short to be taken as a thumbprint
    sha1, _ = thumbprints(secure_server.server_der)
    colon_prefix = ":".join(sha1[i:i + 2] for i in range(0, 12, 2)).lower()
    assert trust_rejected(pki, colon_prefix).sha1 == sha1
    await receives_data(driver)


async def test_server_certificate_change_is_refused_and_named(secure_server: SecureSim, pki: Path) -> None:
    other_der, _ = _self_signed("impostor", SERVER_URI, ExtendedKeyUsageOID.SERVER_AUTH)
    (pki / TRUSTED_DIR).mkdir(parents=True)
    (pki / TRUSTED_DIR / f"ua_{thumbprints(other_der)[0].lower()}.der").write_bytes(other_der)
    with pytest.raises(DriverError, match="different trusted certificate"):
        await driver_for(secure_server, pki, "Sign").connect()


# ---------------------------------------------------------------- login


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # asyncua logs every request it sends at DEBUG
    yield caplog


async def test_wrong_password_is_refused_without_showing_it(secure_server: SecureSim, pki: Path,
                                                            all_logs: pytest.LogCaptureFixture) -> None:
    trust_server(pki, secure_server)
    # Under SignAndEncrypt the token carries the password in clear text inside the encrypted channel.
    wrong = "not-the-" + PASSWORD
    driver = driver_for(secure_server, pki, "SignAndEncrypt", username=USER, password=wrong)
    with pytest.raises(DriverError) as refused:
        await driver.connect()
    await driver.close()
    message = str(refused.value)
    assert f"refused the login as user '{USER}'" in message and "BadUserAccessDenied" in message
    assert "password" in message  # says what to check ...
    assert wrong not in message and PASSWORD not in message  # ... but not what it was
    assert any("ActivateSession" in r.getMessage() for r in all_logs.records), "debug logging was not captured"
    leaks = [r.getMessage() for r in all_logs.records
             if wrong in r.getMessage() or wrong.encode().hex() in r.getMessage()]
    assert leaks == []
    assert wrong not in repr(driver.source)


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_username_and_password_accepted(secure_server: SecureSim, pki: Path, mode: str,
                                              all_logs: pytest.LogCaptureFixture) -> None:
    trust_server(pki, secure_server)
    await receives_data(driver_for(secure_server, pki, mode, username=USER, password=PASSWORD))
    assert secure_server.users.logins[-1] == ("password", USER)
    assert not [r for r in all_logs.records if PASSWORD in r.getMessage()]


@pytest.mark.parametrize("mode", ["None", "Sign"])
async def test_user_certificate_login_accepted(secure_server: SecureSim, pki: Path, mode: str) -> None:
    trust_server(pki, secure_server)
    driver = driver_for(secure_server, pki, mode, user_certificate=str(secure_server.user_cert),
                        user_private_key=str(secure_server.user_key))
    await receives_data(driver)
    assert secure_server.users.logins[-1] == ("certificate", "line-lead")


async def test_missing_user_certificate_file_is_named(secure_server: SecureSim, pki: Path, tmp_path: Path) -> None:
    driver = driver_for(secure_server, pki, "None", user_certificate=str(tmp_path / "nope.pem"),
                        user_private_key=str(secure_server.user_key))
    with pytest.raises(DriverError, match=r"cannot load the user certificate .*nope\.pem"):
        await driver.connect()
    await driver.close()


# ---------------------------------------------------------------- this client's certificate


async def test_client_certificate_is_created_once_and_reused(secure_server: SecureSim, tmp_path: Path) -> None:
    pki = tmp_path / "fresh-pki"
    trust_server(pki, secure_server)
    first = driver_for(secure_server, pki, "Sign")
    await receives_data(first)
    cert_file, key_file = pki / OWN_DIR / OWN_CERT, pki / OWN_DIR / OWN_KEY
    made = cert_file.read_bytes()
    if os.name == "posix":
        assert key_file.stat().st_mode & 0o077 == 0, "the private key must be readable by its owner only"
    cert = x509.load_der_x509_certificate(made)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    [uri] = san.get_values_for_type(x509.UniformResourceIdentifier)
    assert ensure_client_certificate(pki).application_uri == uri

    await receives_data(driver_for(secure_server, pki, "SignAndEncrypt"))
    assert cert_file.read_bytes() == made
    [own] = [c for c in list_certificates(pki) if c.store == "own"]
    assert own.sha1 == thumbprints(made)[0]


async def test_server_that_distrusts_the_client_is_explained(secure_server: SecureSim, pki: Path,
                                                             tmp_path: Path) -> None:
    trust_server(pki, secure_server)
    server_trusts = tmp_path / "server-trusted"
    server_trusts.mkdir()
    # Another client's certificate: cryptography refuses to build an empty trust store.
    shutil.copy(secure_server.user_cert, server_trusts / "someone-else.pem")
    store = TrustStore([server_trusts], [])
    await store.load()
    secure_server.server.set_certificate_validator(CertificateValidator(
        CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
    try:
        driver = driver_for(secure_server, pki, "Sign")
        with pytest.raises(DriverError) as refused:
            await driver.connect()
        await driver.close()
        own = ensure_client_certificate(pki)
        message = str(refused.value)
        assert "refused this client's certificate (BadCertificateUntrusted)" in message
        assert own.sha1 in message and str(own.cert_path) in message

        # Once the server trusts the client's certificate, the same driver gets in.
        shutil.copy(own.cert_path, server_trusts / "oee-tui.der")
        await store.load()
        await receives_data(driver)
    finally:
        secure_server.server.iserver.certificate_validator = None


async def test_half_made_client_certificate_is_not_replaced_silently(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    (pki / OWN_DIR).mkdir(parents=True)
    # An empty own/ (made by hand, say) is simply filled.
    made = ensure_client_certificate(pki, host_name="line-pc")
    assert made.application_uri == "urn:line-pc:oee-tui" and made.cert_path.is_file()
    # A key without its certificate is someone's identity half lost: say so, don't overwrite it.
    made.cert_path.unlink()
    with pytest.raises(DriverError, match="incomplete client certificate"):
        ensure_client_certificate(pki)
    assert made.key_path.is_file()


async def test_password_in_the_endpoint_url_is_masked(tmp_path: Path) -> None:
    source = opcua_source("opc.tcp://operator:hunter2@127.0.0.1:4840/x/")
    driver = OpcUaDriver(source, [], pki_dir=tmp_path)
    assert driver.where == "opcua opc.tcp://operator:***@127.0.0.1:4840/x/"
