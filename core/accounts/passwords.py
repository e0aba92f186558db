"""Password hashing (argon2) and the rule a new password must meet."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


@cache
def dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong name costs as long as a wrong password (made at
    the first need: hashing takes a fifth of a second, which every command would pay at start)."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
