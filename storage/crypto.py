"""Encryption of secrets at rest: LMS client secrets and tokens, Slack tokens.

Keys come from LMSBOT_ENCRYPTION_KEYS, comma-separated Fernet keys, newest first. New values are always
encrypted with the first key; any listed key decrypts, so rotation is: prepend a new key, run
`rotate_keys`, then drop the old key. No key or ciphertext is ever logged or shown in an error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from storage.errors import ConfigurationError, DecryptionError

log = logging.getLogger(__name__)

_GENERATE_HINT = "generate one with `lmsbot keys generate`"


class Keyring:
    def __init__(self, keys: Sequence[Fernet]) -> None:
        if not keys:
            raise ConfigurationError(f"no encryption key given; {_GENERATE_HINT}")
        self._keys = tuple(keys)
        self._multi = MultiFernet(list(self._keys))

    @classmethod
    def from_keys(cls, keys: str | Sequence[str]) -> Keyring:
        raw = keys.split(",") if isinstance(keys, str) else list(keys)
        cleaned = [key.strip() for key in raw if key.strip()]
        if not cleaned:
            raise ConfigurationError(f"LMSBOT_ENCRYPTION_KEYS holds no key; {_GENERATE_HINT}")
        fernets: list[Fernet] = []
        for position, key in enumerate(cleaned, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # Say which one is wrong, never what it is.
                raise ConfigurationError(
                    f"encryption key #{position} of {len(cleaned)} in LMSBOT_ENCRYPTION_KEYS is not a valid "
                    f"Fernet key (32 url-safe base64-encoded bytes); {_GENERATE_HINT}"
                ) from None
        return cls(fernets)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def __repr__(self) -> str:
        return f"Keyring({len(self._keys)} key{'s' if len(self._keys) != 1 else ''})"

    def __len__(self) -> int:
        return len(self._keys)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                f"a stored secret does not decrypt with any of the {len(self._keys)} configured key(s); "
                "was the key it was written with removed from LMSBOT_ENCRYPTION_KEYS?"
            ) from None

    def needs_rotation(self, token: str) -> bool:
        """True unless `token` is already encrypted under the newest key."""
        try:
            self._keys[0].decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return True
        return False

    def rotate(self, token: str) -> str:
        """`token` re-encrypted under the newest key (the plaintext never leaves this method)."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                f"a stored secret does not decrypt with any of the {len(self._keys)} configured key(s)"
            ) from None


def load_keyring(keys: str | SecretStr | None, *, production: bool, dev_key_file: Path) -> Keyring:
    """The keyring from LMSBOT_ENCRYPTION_KEYS, or (development only) from a local key file."""
    if isinstance(keys, SecretStr):
        keys = keys.get_secret_value()
    if keys and keys.strip():
        return Keyring.from_keys(keys)
    if production:
        raise ConfigurationError(
            f"LMSBOT_ENCRYPTION_KEYS is not set: {_GENERATE_HINT} and set it in the environment "
            "(secrets are stored encrypted; set LMSBOT_ENV=development to use a local key file instead)"
        )
    dev_key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Keyring.generate_key()
    # Written 0600 to a private temporary file, then hard-linked into place: the key file never exists
    # half-written or world-readable, and when two processes start together exactly one key wins.
    tmp = dev_key_file.with_name(f".{dev_key_file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    try:
        os.link(tmp, dev_key_file)
    except FileExistsError:
        log.info("LMSBOT_ENCRYPTION_KEYS is not set; using the development key file %s", dev_key_file)
        return Keyring.from_keys(dev_key_file.read_text(encoding="ascii"))
    finally:
        tmp.unlink(missing_ok=True)
    log.warning(
        "LMSBOT_ENCRYPTION_KEYS is not set; created the development key file %s. Secrets encrypted with it "
        "are unreadable without it; production needs LMSBOT_ENCRYPTION_KEYS",
        dev_key_file,
    )
    return Keyring.from_keys(key)
