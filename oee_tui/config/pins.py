"""PINs of the people who share one login: stored as PBKDF2-SHA256 hashes, checked in constant time.

The config holds `pin = "pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>"`, made by `oee access pin`;
the PIN itself is never stored. hashlib's PBKDF2 is enough here: no new dependency for one hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Final

PIN_SCHEME: Final = "pbkdf2_sha256"
PIN_ITERATIONS: Final = 600_000  # OWASP's figure for PBKDF2-SHA256; about 0.15 s on a line-side box's core
# Fewer rounds make a PIN's hash too quick to try all PINs against; a slow box may go down to this.
MIN_PIN_ITERATIONS: Final = 100_000
MIN_PIN_LENGTH: Final = 4
MAX_PIN_LENGTH: Final = 12
_SALT_BYTES: Final = 16
_DIGEST_BYTES: Final = 32


class PinError(ValueError):
    """A PIN or a PIN hash that cannot be used; the message says why, never the PIN."""


@dataclass(frozen=True, slots=True)
class PinHash:
    """A salted PBKDF2-SHA256 hash of one person's PIN."""

    iterations: int
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)

    @property
    def text(self) -> str:
        """As the config file holds it."""
        return f"{PIN_SCHEME}${self.iterations}${self.salt.hex()}${self.digest.hex()}"

    @classmethod
    def parse(cls, text: str) -> PinHash:
        parts = text.split("$")
        if len(parts) != 4 or parts[0] != PIN_SCHEME:
            raise PinError(f"must be {PIN_SCHEME}$<iterations>$<salt hex>$<hash hex>, as `oee access pin` prints it")
        _scheme, iterations_text, salt_hex, digest_hex = parts
        if not iterations_text.isdigit() or int(iterations_text) < MIN_PIN_ITERATIONS:
            raise PinError(f"its iteration count must be a whole number of at least {MIN_PIN_ITERATIONS:,}")
        try:
            salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        except ValueError as exc:
            raise PinError("its salt and hash must be hexadecimal, as `oee access pin` prints them") from exc
        if len(salt) < 8 or len(digest) != _DIGEST_BYTES:
            raise PinError(f"needs a salt of at least 8 bytes and a {_DIGEST_BYTES}-byte hash; "
                           "make a new one with `oee access pin`")
        return cls(int(iterations_text), salt, digest)

    def matches(self, pin: str) -> bool:
        candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), self.salt, self.iterations)
        return hmac.compare_digest(candidate, self.digest)


def check_pin_text(pin: str) -> None:
    """Raises PinError unless `pin` is 4 to 12 digits: a PIN typed on a line-side keyboard or keypad."""
    if not pin.isdigit() or not pin.isascii():
        raise PinError("a PIN is digits only")
    if not MIN_PIN_LENGTH <= len(pin) <= MAX_PIN_LENGTH:
        raise PinError(f"a PIN has {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} digits")


def hash_pin(pin: str, iterations: int = PIN_ITERATIONS) -> PinHash:
    check_pin_text(pin)
    salt = os.urandom(_SALT_BYTES)
    return PinHash(iterations, salt, hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations))


# Checked against when no such person exists, so a wrong name takes as long as a wrong PIN and the
# time of an answer does not tell which names there are.
DECOY: Final = PinHash(PIN_ITERATIONS, bytes(_SALT_BYTES), bytes(_DIGEST_BYTES))
