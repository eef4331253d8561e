"""Passwords are argon2id at OWASP's parameters; a hash made with the earlier ones (the library's
defaults) still logs in and is flagged for re-making at that login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from gateway.adapters.security import OWASP_ARGON2ID, Argon2Passwords

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery staple"


def test_a_new_hash_is_argon2id_at_the_owasp_parameters() -> None:
    passwords = Argon2Passwords()

    made = passwords.hash(PASSWORD)

    assert made.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(made, PASSWORD) and not passwords.verify(made, PASSWORD + "!")
    assert not passwords.needs_rehash(made)
    assert OWASP_ARGON2ID == {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


def test_a_hash_of_the_earlier_parameters_still_verifies_and_is_remade() -> None:
    earlier = PasswordHasher(memory_cost=65536, time_cost=3, parallelism=4, type=Type.ID).hash(PASSWORD)
    passwords = Argon2Passwords()

    assert passwords.verify(earlier, PASSWORD)
    assert passwords.needs_rehash(earlier)
