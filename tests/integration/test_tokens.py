"""Bearer tokens: the shared secret by default, an identity provider's keys (JWKS) when
configured; signature, expiry, issuer and audience are all checked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.auth import issue_token, subject_of
from api.errors import ApiError
from backoffice.settings import Settings

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwks(*pairs: tuple[str, Any]) -> dict[str, Any]:
    keys = []
    for kid, private in pairs:
        algorithm = (
            jwt.algorithms.RSAAlgorithm
            if isinstance(private, rsa.RSAPrivateKey)
            else (jwt.algorithms.ECAlgorithm)
        )
        key = json.loads(algorithm.to_jwk(private.public_key()))
        keys.append({**key, "kid": kid, "use": "sig"})
    return {"keys": keys}


def provider_token(kid: str, private: Any, algorithm: str, **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "e-100",
        "iss": "https://idp.example.com",
        "aud": "backoffice",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, private, algorithm=algorithm, headers={"kid": kid})


def refusal(settings: Settings, token: str) -> str | None:
    with pytest.raises(ApiError) as refused:
        subject_of(settings, token)
    assert refused.value.status == 401
    return refused.value.rule


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(("rsa-1", RSA_KEY), ("ec-1", EC_KEY))))
    return path


@pytest.fixture
def provider(jwks_file: Path, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", jwks_file=jwks_file, jwt_issuer="https://idp.example.com"
    )


def test_a_token_from_backoffice_token_names_its_employee(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert subject_of(settings, issue_token(settings, "e-100")) == "e-100"


def test_a_token_made_for_another_data_folder_is_refused_saying_what_may_have_happened(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "here")
    elsewhere = Settings(_env_file=None, data_dir=tmp_path / "elsewhere")

    with pytest.raises(ApiError) as refused:
        subject_of(settings, issue_token(elsewhere, "e-100"))

    assert refused.value.rule == "invalid_token"
    assert refused.value.detail == (
        "the token is not valid: it was not signed with this server's secret (made by"
        " `backoffice token` with another --data folder or BACKOFFICE_JWT_SECRET?), or"
        " it was altered"
    )


def test_a_token_for_another_audience_or_issuer_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    other_audience = settings.model_copy(update={"jwt_audience": "payroll"})
    other_issuer = settings.model_copy(update={"jwt_issuer": "someone-else"})

    assert refusal(settings, issue_token(other_audience, "e-100")) == "invalid_token"
    assert refusal(settings, issue_token(other_issuer, "e-100")) == "invalid_token"


@pytest.mark.parametrize(
    ("kid", "key", "algorithm"), [("rsa-1", RSA_KEY, "RS256"), ("ec-1", EC_KEY, "ES256")]
)
def test_identity_provider_tokens_are_verified_with_its_published_keys(
    provider: Settings, kid: str, key: Any, algorithm: str
) -> None:
    assert subject_of(provider, provider_token(kid, key, algorithm)) == "e-100"


def test_identity_provider_mode_refuses_what_its_keys_did_not_sign(provider: Settings) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    expired = datetime.now(UTC) - timedelta(minutes=1)

    assert refusal(provider, provider_token("rsa-1", stranger, "RS256")) == "invalid_token"
    assert refusal(provider, provider_token("unknown", RSA_KEY, "RS256")) == "invalid_token"
    assert refusal(provider, provider_token("rsa-1", EC_KEY, "ES256")) == "invalid_token"
    assert refusal(provider, provider_token("rsa-1", RSA_KEY, "RS256", exp=expired)) == (
        "token_expired"
    )
    assert refusal(provider, provider_token("rsa-1", RSA_KEY, "RS256", aud="x")) == "invalid_token"
    # a token signed with the shared secret is no good once an identity provider is set
    assert refusal(provider, issue_token(provider, "e-100")) == "invalid_token"


def test_a_rotated_jwks_file_is_read_again(provider: Settings, jwks_file: Path) -> None:
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks_file.write_text(json.dumps(jwks(("rsa-2", rotated))))

    assert subject_of(provider, provider_token("rsa-2", rotated, "RS256")) == "e-100"
    assert refusal(provider, provider_token("rsa-1", RSA_KEY, "RS256")) == "invalid_token"


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """An identity provider's JWKS endpoint on loopback."""
    body = json.dumps(jwks(("rsa-1", RSA_KEY))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def test_identity_provider_keys_are_fetched_from_its_jwks_url(
    jwks_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, jwks_url=jwks_url, jwt_issuer="https://idp.example.com")

    assert subject_of(settings, provider_token("rsa-1", RSA_KEY, "RS256")) == "e-100"
    # an EC-signed token naming the RSA key: refused, not a crash
    assert refusal(settings, provider_token("rsa-1", EC_KEY, "ES256")) == "invalid_token"
