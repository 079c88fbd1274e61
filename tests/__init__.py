"""The test suite. Its helper modules (tests/support, each domain's helpers.py) get pytest's
assertion messages too: they are registered for rewriting before conftest imports them."""

import pytest

pytest.register_assert_rewrite(
    "tests.support", "tests.auth.helpers", "tests.artists.helpers", "tests.submissions.helpers"
)
