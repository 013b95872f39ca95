"""``backoffice users set-password``, run in-process against a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.settings import Settings
from services.credentials import Credentials

EXAMPLE_ORG = Path(__file__).parents[2] / "examples" / "org.yaml"
PASSWORD = "a long enough password"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env, and var/ lands in the scratch folder
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    assert (
        CliRunner().invoke(app, ["org", "load", str(EXAMPLE_ORG), "--data", str(data)]).exit_code
        == 0
    )
    return data


def run(*args: str, stdin: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def credentials(data_dir: Path) -> Credentials:
    return Credentials(Settings(data_dir=data_dir).store)


def test_a_password_from_standard_input_lets_the_employee_sign_in(data_dir: Path) -> None:
    code, out, _ = run(
        "users",
        "set-password",
        "e-100",
        "--password-stdin",
        "--data",
        str(data_dir),
        stdin=PASSWORD + "\n",
    )

    assert code == 0
    assert out.strip() == "password set for e-100"
    assert credentials(data_dir).verify("e-100", PASSWORD)
    assert not credentials(data_dir).verify("e-100", PASSWORD + "\n")


def test_a_password_typed_twice_at_the_prompt_is_set(data_dir: Path) -> None:
    code, _, _ = run(
        "users",
        "set-password",
        "e-100",
        "--data",
        str(data_dir),
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert code == 0
    assert credentials(data_dir).verify("e-100", PASSWORD)


def test_two_different_passwords_at_the_prompt_are_asked_again(data_dir: Path) -> None:
    code, out, _ = run(
        "users",
        "set-password",
        "e-100",
        "--data",
        str(data_dir),
        stdin=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n",
    )

    assert code == 0
    assert "do not match" in out
    assert credentials(data_dir).verify("e-100", PASSWORD)


def test_a_short_password_is_refused_and_nothing_changes(data_dir: Path) -> None:
    code, _, err = run(
        "users",
        "set-password",
        "e-100",
        "--password-stdin",
        "--data",
        str(data_dir),
        stdin="short\n",
    )

    assert code == 1
    assert err.strip() == ("error: a password needs at least 12 characters; nothing was changed")
    assert not credentials(data_dir).has_password("e-100")


def test_an_unknown_employee_is_refused(data_dir: Path) -> None:
    code, _, err = run(
        "users",
        "set-password",
        "e-999",
        "--password-stdin",
        "--data",
        str(data_dir),
        stdin=PASSWORD + "\n",
    )

    assert code == 1
    assert "no employee e-999" in err
    assert not credentials(data_dir).has_password("e-999")
