"""The forms' token comparison and where a sign-in may lead."""

from __future__ import annotations

import pytest

from web.security import same_token
from web.sign_in import safe_next


def test_tokens_match_only_when_both_are_present_and_equal() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token("abc", None)
    assert not same_token(None, None)
    assert not same_token("", "")


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/tasks/abc.approval", "/tasks/abc.approval"),
        ("/requests?x=1", "/requests?x=1"),
        ("https://elsewhere.example/", "/tasks"),
        ("//elsewhere.example/", "/tasks"),
        ("/\\elsewhere.example/", "/tasks"),
        (None, "/tasks"),
    ],
)
def test_after_sign_in_only_a_path_on_this_site_is_followed(
    asked: str | None, goes_to: str
) -> None:
    assert safe_next(asked) == goes_to
