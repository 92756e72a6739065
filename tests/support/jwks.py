"""An app's own login system for the user-JWT tests: key pairs, a JWKS served over HTTP on
127.0.0.1 (each issuer at a path of its own, with a request counter), and tokens signed with
PyJWT the way Auth0, Cognito or an OpenID provider would sign them."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.processes import free_port


@dataclass
class SigningKey:
    """A private key with its kid; ``public_jwk`` is what the JWKS publishes."""

    private: Any
    kid: str
    alg: str

    @classmethod
    def rsa(cls, kid: str | None = None, alg: str = "RS256") -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private, kid or secrets.token_hex(6), alg)

    @classmethod
    def ec(cls, kid: str | None = None) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()), kid or secrets.token_hex(6), "ES256")

    @property
    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith(("RS", "PS")) else ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, claims: dict[str, Any], *, alg: str | None = None,
             headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=alg or self.alg,
                          headers={"kid": self.kid, **(headers or {})})


@dataclass
class Issuer:
    """One login system: its issuer, audience, keys and JWKS path on the server."""

    server: JwksServer
    path: str
    issuer: str
    audience: str
    keys: list[SigningKey] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return f"{self.server.url}{self.path}"

    @property
    def fetches(self) -> int:
        return self.server.requests[self.path]

    def publish(self, *keys: SigningKey) -> None:
        self.keys = list(keys)

    def claims(self, sub: str = "user-7", **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now,
                "exp": now + 600, "name": "Grace Hopper"}
        return {k: v for k, v in {**base, **changes}.items() if v is not None}

    def token(self, sub: str = "user-7", *, key: SigningKey | None = None, **changes: Any) -> str:
        return (key or self.keys[0]).sign(self.claims(sub, **changes))


class JwksServer:
    """``http://127.0.0.1:<port>/<issuer path>``: each issuer's current keys as a JWKS."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuers: dict[str, Issuer] = {}
        self.requests: Counter[str] = Counter()
        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def new_issuer(self, *keys: SigningKey, audience: str = "acme-web") -> Issuer:
        path = f"/{secrets.token_hex(6)}/.well-known/jwks.json"
        issuer = Issuer(self, path, f"https://login.{secrets.token_hex(4)}.example.test/",
                        audience, list(keys) or [SigningKey.rsa()])
        self.issuers[path] = issuer
        return issuer

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server.requests[self.path] += 1
                issuer = server.issuers.get(self.path)
                if issuer is None:
                    self.send_response(HTTPStatus.NOT_FOUND)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"keys": [k.public_jwk for k in issuer.keys]}).encode()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
