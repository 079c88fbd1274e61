"""Key rotation for app passwords: re-encrypt every one under the newest key, with the same
walk as the W-9s' (artists/keys.py: a batch per transaction, resumable, undecryptable rows
reported and left as they are)."""

from __future__ import annotations

from empulse.artists.keys import Encrypted
from empulse.core.crypto import FieldCipher
from empulse.models import AppPassword
from empulse.subsonic import repository


def _reencrypt(cipher: FieldCipher, row: AppPassword) -> None:
    secret = cipher.decrypt(row.secret_ciphertext, str(row.id))
    row.secret_ciphertext = cipher.encrypt(secret, str(row.id))
    row.key_id = cipher.current_key_id


APP_PASSWORDS = Encrypted(
    what="app passwords",
    event="app_password_keys_rotated",
    batch=lambda session, key_id, after, limit: repository.app_passwords_not_under_key(
        session, key_id, after=after, limit=limit
    ),
    reencrypt=_reencrypt,
    key_of=lambda row: row.key_id,
    count_by_key=repository.app_password_count_by_key,
)
