"""Channel secrets at rest: encrypted with a key derived from HEARD_SECRET_KEY.

The panel seals a channel's auth token or API key when a coordinator saves it, and the
outbox opens it to send; both go through here so they can never disagree on the key.
HKDF gives the encryption its own key, so the session-signing key is never used to
encrypt, and a copy of the database alone reveals no credential.
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretsUnreadable(ValueError):
    """Sealed with another HEARD_SECRET_KEY (or corrupted): the channel must be re-entered."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"heard-channel-secrets", info=b"fernet"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal_secrets(secret_key: str, secrets: dict[str, str]) -> str:
    return _fernet(secret_key).encrypt(json.dumps(secrets).encode()).decode()


def open_secrets(secret_key: str, sealed: str | None) -> dict[str, str]:
    if not sealed:
        return {}
    try:
        return json.loads(_fernet(secret_key).decrypt(sealed.encode()))
    except (InvalidToken, ValueError) as error:
        raise SecretsUnreadable("was HEARD_SECRET_KEY changed?") from error
