"""OPC UA certificates: this client's own certificate, and the servers it trusts.

Layout under the PKI folder (by default `<user config dir>/oee-tui/pki`):

    own/cert.der, own/key.pem    this client's application instance certificate and key
    trusted/                     server certificates the operator accepted (DER or PEM)
    rejected/                    server certificates seen on connect and not (yet) trusted

Trust is explicit and by exact certificate: a server certificate is trusted only when
the same certificate (by SHA-256 of its DER bytes) lies in trusted/. An unknown one is
saved to rejected/ and the connection fails with its thumbprints, so a person can check
them against the server's display before running `oee devices trust NAME`.

No Textual here, and no asyncio: everything is plain file work the driver runs in a
thread, so the CLI can call it directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shlex
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import platformdirs
from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from oee_tui.config import APP_NAME
from oee_tui.drivers.base import DriverError

log = logging.getLogger(__name__)

OWN_DIR: Final = "own"
TRUSTED_DIR: Final = "trusted"
REJECTED_DIR: Final = "rejected"
OWN_CERT: Final = "cert.der"
OWN_KEY: Final = "key.pem"
# A self-signed client certificate that expires stops every secure connection at once and
# needs every server to trust a new one, so it lives long; five years is a common choice.
OWN_CERT_DAYS: Final = 5 * 365
TRUST_COMMAND: Final = "oee devices trust"
_CERT_SUFFIXES: Final = (".der", ".pem", ".crt", ".cer")
_THUMBPRINT_FILE: Final = re.compile(r"^(?P<source>.*)_(?P<sha1>[0-9a-f]{40})$")
# Several drivers of one process may connect at once on the first run; only one must
# create the client certificate. (Across processes the atomic directory rename decides.)
_own_lock = threading.Lock()

Store = Literal["own", "trusted", "rejected"]


def default_pki_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "pki"


def pki_dir_for(config_path: Path) -> Path:
    """Certificates live beside the config they belong to, so `--config` moves them too."""
    return config_path.parent / "pki"


# ---------------------------------------------------------------- certificate facts


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What a person needs to recognise a certificate and decide to trust it."""

    path: Path
    store: Store
    source: str | None  # the source it was seen on, from its file name; None if put there by hand
    subject: str
    application_uri: str | None
    sha1: str  # upper-case hex of the DER bytes, as OPC UA tools show thumbprints
    sha256: str
    not_before: datetime
    not_after: datetime

    @property
    def expired(self) -> bool:
        return self.not_after < datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """This client's certificate: the files set_security loads, and the URI it must announce."""

    cert_path: Path
    key_path: Path
    application_uri: str
    sha1: str
    sha256: str


def thumbprints(der: bytes) -> tuple[str, str]:
    """(SHA-1, SHA-256) of a certificate's DER bytes, upper-case hex."""
    return hashlib.sha1(der).hexdigest().upper(), hashlib.sha256(der).hexdigest().upper()


def _application_uri(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def load_certificate_file(path: Path) -> x509.Certificate:
    """A DER or PEM certificate; the suffix is only a hint, since both circulate as .crt/.cer."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def certificate_info(path: Path, store: Store, cert: x509.Certificate | None = None) -> CertificateInfo:
    cert = load_certificate_file(path) if cert is None else cert
    sha1, sha256 = thumbprints(cert.public_bytes(serialization.Encoding.DER))
    match = _THUMBPRINT_FILE.match(path.stem)
    return CertificateInfo(
        path=path, store=store, source=match.group("source") if match and store != "own" else None,
        subject=cert.subject.rfc4514_string(), application_uri=_application_uri(cert),
        sha1=sha1, sha256=sha256, not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)


def _store_certificates(pki_dir: Path, store: Store) -> list[CertificateInfo]:
    folder = pki_dir / store
    if not folder.is_dir():
        return []
    found: list[CertificateInfo] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in _CERT_SUFFIXES or not path.is_file():
            continue
        try:
            found.append(certificate_info(path, store))
        except (OSError, ValueError) as exc:
            # One damaged file must not hide the others, nor count as trusted.
            log.warning("%s: not a certificate, ignored: %s", path, exc)
    return found


def list_certificates(pki_dir: Path) -> list[CertificateInfo]:
    """This client's own certificate (if made yet), then the trusted, then the rejected ones."""
    own = pki_dir / OWN_DIR / OWN_CERT
    found: list[CertificateInfo] = []
    if own.is_file():
        with contextlib.suppress(OSError, ValueError):
            found.append(certificate_info(own, "own"))
    return found + _store_certificates(pki_dir, "trusted") + _store_certificates(pki_dir, "rejected")


# ---------------------------------------------------------------- this client's certificate


def _write_private(path: Path, data: bytes) -> None:
    # 0600 from the first byte: the key must never be readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _create_own(pki_dir: Path, application_uri: str, host_name: str) -> None:
    """Make key and certificate in a fresh folder, then rename it to own/ in one step.

    If another process got there first the rename fails and its pair is kept, so a
    key never ends up beside another process's certificate.
    """
    pki_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".own-", dir=pki_dir))
    try:
        key = cert_gen.generate_private_key()
        cert = cert_gen.generate_self_signed_app_certificate(
            key, "oee-tui", {}, [x509.UniformResourceIdentifier(application_uri), x509.DNSName(host_name)],
            extended=[ExtendedKeyUsageOID.CLIENT_AUTH], days=OWN_CERT_DAYS)
        _write_private(staging / OWN_KEY, cert_gen.dump_private_key_as_pem(key))
        (staging / OWN_CERT).write_bytes(cert.public_bytes(serialization.Encoding.DER))
        try:
            staging.rename(pki_dir / OWN_DIR)
        except OSError:
            if not (pki_dir / OWN_DIR / OWN_CERT).is_file():
                raise
            log.debug("%s: another process created the client certificate first", pki_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sha1, _ = thumbprints((pki_dir / OWN_DIR / OWN_CERT).read_bytes())
    log.info("created the OPC UA client certificate %s (SHA-1 %s); servers that check clients must trust it",
             pki_dir / OWN_DIR / OWN_CERT, sha1)


def ensure_client_certificate(pki_dir: Path, host_name: str | None = None) -> ClientCertificate:
    """This client's certificate, created on first use and reused after.

    The application URI is read back from the certificate rather than rebuilt from the
    host name, so renaming the machine does not silently change the client's identity.
    An expired certificate is set aside (own.expired-DATE) and replaced, with a warning,
    because it cannot work any more and every server has to trust the new one.
    """
    host = host_name or socket.gethostname()
    own = pki_dir / OWN_DIR
    with _own_lock:
        if (own / OWN_CERT).is_file() and (own / OWN_KEY).is_file():
            cert = load_certificate_file(own / OWN_CERT)
            if cert.not_valid_after_utc < datetime.now(UTC) + timedelta(minutes=1):
                aside = pki_dir / f"own.expired-{cert.not_valid_after_utc:%Y%m%d}"
                log.warning("the OPC UA client certificate %s expired on %s; moved to %s and creating a new one",
                            own / OWN_CERT, cert.not_valid_after_utc.date(), aside)
                own.rename(aside)
        elif (own / OWN_CERT).exists() or (own / OWN_KEY).exists():
            raise DriverError(f"{own} holds an incomplete client certificate ({OWN_CERT} and {OWN_KEY} are both "
                              f"needed); restore the missing file, or remove the folder to create a new certificate")
        if not (own / OWN_CERT).is_file():
            with contextlib.suppress(OSError):
                own.rmdir()  # an empty own/ left by hand; rename() cannot replace it everywhere
            _create_own(pki_dir, f"urn:{host}:oee-tui", host)
        cert = load_certificate_file(own / OWN_CERT)
    uri = _application_uri(cert)
    if uri is None:
        raise DriverError(f"{own / OWN_CERT} has no application URI (subjectAltName URI); OPC UA servers refuse it")
    sha1, sha256 = thumbprints(cert.public_bytes(serialization.Encoding.DER))
    return ClientCertificate(own / OWN_CERT, own / OWN_KEY, uri, sha1, sha256)


# ---------------------------------------------------------------- server certificates


def _slug(source_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", source_name).strip("-") or "server"


class UntrustedServerCertificate(DriverError):
    """The server showed a certificate that is not in trusted/; it now lies in rejected/."""

    def __init__(self, message: str, certificate: CertificateInfo, previously_trusted: list[CertificateInfo]) -> None:
        super().__init__(message)
        self.certificate = certificate
        self.previously_trusted = previously_trusted


def check_server_certificate(pki_dir: Path, source_name: str, der: bytes) -> CertificateInfo:
    """The trusted entry of the certificate `der`; otherwise save it to rejected/ and raise.

    Raises UntrustedServerCertificate with the thumbprints and the command that trusts it.
    """
    cert = x509.load_der_x509_certificate(der)
    sha1, sha256 = thumbprints(der)
    trusted = _store_certificates(pki_dir, "trusted")
    for info in trusted:
        if info.sha256 == sha256:
            if info.expired:
                log.warning("%s: trusted server certificate %s expired on %s", source_name, info.path,
                            info.not_after.date())
            return info

    rejected = pki_dir / REJECTED_DIR
    rejected.mkdir(parents=True, exist_ok=True)
    slug = _slug(source_name)
    # The newest certificate a source showed is the one to decide on; older rejected
    # ones of the same source would only make `trust NAME` ambiguous.
    for old in _store_certificates(pki_dir, "rejected"):
        if old.source == slug and old.sha256 != sha256:
            old.path.unlink(missing_ok=True)
    path = rejected / f"{slug}_{sha1.lower()}.der"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(der)
    tmp.replace(path)
    info = certificate_info(path, "rejected", cert)

    same_source = [t for t in trusted if t.source == slug]
    message = (f"the server's certificate is not trusted (subject {info.subject}, SHA-1 {sha1}, SHA-256 {sha256}); "
               f"it was saved to {path}. ")
    if same_source:
        # A server that changes its certificate may be renewed, or may not be the same server.
        message += (f"This source had a different trusted certificate (SHA-1 "
                    f"{', '.join(t.sha1 for t in same_source)}): find out why it changed. ")
    message += (f"Compare the thumbprint with the one the server shows, then trust it with: "
                f"{TRUST_COMMAND} {shlex.quote(source_name)}")
    log.warning("%s: %s", source_name, message)
    raise UntrustedServerCertificate(message, info, same_source)


def _normalise_thumbprint(text: str) -> str:
    return re.sub(r"[\s:]", "", text).upper()


def find_rejected(pki_dir: Path, source_name_or_thumbprint: str) -> CertificateInfo:
    """The one rejected certificate of that source, or whose SHA-1/SHA-256 starts with the thumbprint."""
    rejected = _store_certificates(pki_dir, "rejected")
    wanted = source_name_or_thumbprint.strip()
    matches = [c for c in rejected if c.source == _slug(wanted)]
    hex_digits = _normalise_thumbprint(wanted)
    # A thumbprint prefix is accepted so a person can type the first few groups they read,
    # but not so short that it matches by chance.
    if not matches and len(hex_digits) >= 8 and re.fullmatch(r"[0-9A-F]+", hex_digits):
        matches = [c for c in rejected if c.sha1.startswith(hex_digits) or c.sha256.startswith(hex_digits)]
    if not matches:
        known = ", ".join(f"{c.source or c.path.name} (SHA-1 {c.sha1})" for c in rejected) or "none"
        raise LookupError(f"no rejected certificate for {wanted!r} in {pki_dir / REJECTED_DIR}; rejected: {known}")
    if len(matches) > 1:
        listed = ", ".join(f"{c.path.name} (SHA-1 {c.sha1})" for c in matches)
        raise LookupError(f"{wanted!r} matches {len(matches)} rejected certificates: {listed}; give the thumbprint")
    return matches[0]


def trust_rejected(pki_dir: Path, source_name_or_thumbprint: str) -> CertificateInfo:
    """Move one rejected server certificate to trusted/ (by source name or thumbprint); its new entry.

    Raises LookupError when nothing, or more than one certificate, matches.
    """
    found = find_rejected(pki_dir, source_name_or_thumbprint)
    trusted = pki_dir / TRUSTED_DIR
    trusted.mkdir(parents=True, exist_ok=True)
    target = trusted / found.path.name
    found.path.replace(target)  # same file system: an atomic move
    log.info("trusted the server certificate %s (SHA-1 %s)", target, found.sha1)
    return certificate_info(target, "trusted")
