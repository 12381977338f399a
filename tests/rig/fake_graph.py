"""A fake Microsoft Graph and Entra token endpoint on 127.0.0.1, over TLS, for the real msgraph-sdk client.

azure-identity only accepts an https authority, so the fake serves TLS with a throwaway CA made at test time;
the client under test trusts it through SAFESPACE_GRAPH_CA_BUNDLE (GraphConfig.ca_bundle), as production would
trust a proxy's CA. It answers:

- POST /{tenant}/oauth2/v2.0/token: client credentials with a client secret, or a certificate assertion (the
  PS256 signature is checked against the registered certificate);
- GET /msi/token: App Service managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER);
- GET /v1.0/groups/{id}/transitiveMembers/{graph.user|microsoft.graph.user}: paged, nested groups flattened;
- GET /v1.0/users/{id}: $select honoured, 404 for strangers;
- POST /v1.0/users/{mailbox}/sendMail: 202, recorded;
- GET /v1.0/sites/{site}/drive: the site's default document library (404 for unknown sites);
- PUT /v1.0/drives/{drive}/items/root:/{path}:/content: a simple file upload, kept in `files` by path.

Scripting: `fail_next` (a status and headers for the next Graph calls, e.g. 429 + Retry-After), `revoke_tokens`
(every token issued so far gets 401 InvalidAuthenticationToken), `reject_all_tokens`, `unavailable` (503 to
everything) and `go_down` / `come_back` (the port refuses connections, then answers again on the same port).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
import json
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TENANT = "00000000-0000-4000-8000-00000000aaaa"
CLIENT_ID = "11111111-1111-4111-8111-111111111111"
CLIENT_SECRET = "fake-secret-for-tests"
MSI_HEADER = "fake-identity-header"


# Certificates ---------------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Tls:
    ca_path: Path  # trust this
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_tls(directory: Path) -> Tls:
    """A CA and a server certificate for 127.0.0.1 and localhost, valid for a day."""
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Safe Space test CA"))
        .issuer_name(_name("Safe Space test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(ca_path=directory / "ca.pem", cert_path=directory / "server.pem", key_path=directory / "server.key")
    tls.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tls


def make_client_certificate(path: Path) -> x509.Certificate:
    """A self-signed app certificate, key and certificate in one PEM file, as CertificateCredential takes it."""
    now = dt.datetime.now(dt.UTC)
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("safe-space-graph"))
        .issuer_name(_name("safe-space-graph"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return cert


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# The server -----------------------------------------------------------------------------------------------


@dataclass
class GraphFailure:
    """The answer to the next matching Graph call (token calls are never failed this way)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str = "Scripted"
    path_contains: str = ""


@dataclass
class SentMail:
    mailbox: str
    body: dict[str, Any]

    def _parameter(self, name: str) -> Any:
        # msgraph-sdk sends the action's parameters as "Message" and "SaveToSentItems" (its OpenAPI spelling);
        # Graph reads them case-insensitively, so the fake does too.
        return next(value for key, value in self.body.items() if key.lower() == name.lower())

    @property
    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = self._parameter("message")
        return message

    @property
    def save_to_sent_items(self) -> bool:
        return bool(self._parameter("saveToSentItems"))

    @property
    def text(self) -> str:
        return str(self.message["body"]["content"])

    @property
    def to(self) -> list[str]:
        return [r["emailAddress"]["address"] for r in self.message["toRecipients"]]


class FakeGraph:
    def __init__(self, tls: Tls) -> None:
        self.tls = tls
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, list[str]] = {}  # group id -> member ids (users or groups)
        self.mailboxes: set[str] = set()
        self.page_size = 100
        self.secrets: dict[str, str] = {CLIENT_ID: CLIENT_SECRET}
        self.certificates: dict[str, x509.Certificate] = {}
        self.failures: deque[GraphFailure] = deque()
        self.unavailable = False
        self.reject_all_tokens = False
        self.token_requests: list[dict[str, str]] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path with query, status) of Graph calls
        self.mail: list[SentMail] = []
        self.sites: dict[str, str] = {}  # site id -> its default drive's id
        self.files: dict[tuple[str, str], bytes] = {}  # (drive id, path) -> the uploaded bytes
        self._issued: set[str] = set()
        self._revoked: set[str] = set()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # Life cycle -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    @property
    def authority(self) -> str:
        return self.url

    async def start(self) -> FakeGraph:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/msi/token", self._msi_token)
        app.router.add_get("/v1.0/groups/{gid}/transitiveMembers/{cast}", self._transitive_users)
        app.router.add_get("/v1.0/users/{uid}", self._user)
        app.router.add_post("/v1.0/users/{uid}/sendMail", self._send_mail)
        app.router.add_get("/v1.0/sites/{site}/drive", self._site_drive)
        app.router.add_put(r"/v1.0/drives/{drive}/items/{item:.+}/content", self._upload)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.tls.server_context())
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_down(self) -> None:
        """Connections to the port are refused (open keep-alive connections are dropped too)."""
        await self.stop()

    async def come_back(self) -> None:
        await self.start()

    # Scripting ------------------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        job_title: str | None = None,
        department: str | None = None,
        upn: str | None = None,
    ) -> None:
        self.users[user_id] = {"id": user_id, "displayName": name, "jobTitle": job_title, "department": department}
        if upn:
            self.users[user_id]["userPrincipalName"] = upn

    def add_group(self, group_id: str, *member_ids: str) -> None:
        self.groups[group_id] = list(member_ids)

    def add_site(self, site_id: str, drive_id: str) -> None:
        self.sites[site_id] = drive_id

    def fail_next(self, *failures: GraphFailure) -> None:
        self.failures.extend(failures)

    def revoke_tokens(self) -> None:
        self._revoked |= self._issued

    def graph_calls(self, contains: str = "") -> list[tuple[str, str, int]]:
        return [r for r in self.requests if contains in r[1]]

    # Tokens ---------------------------------------------------------------------------------------------

    def _issue(self) -> str:
        token = f"fake-token-{next(self._ids)}"
        self._issued.add(token)
        return token

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)

        def refuse(code: str, description: str) -> web.Response:
            return web.json_response({"error": code, "error_description": description}, status=401)

        if request.match_info["tenant"] != TENANT or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_request"}, status=400)
        client_id = form.get("client_id", "")
        if "client_secret" in form:
            if self.secrets.get(client_id) != form["client_secret"]:
                return refuse("invalid_client", "AADSTS7000215: Invalid client secret provided.")
        elif "client_assertion" in form:
            if not self._assertion_ok(client_id, form["client_assertion"], str(request.url)):
                return refuse("invalid_client", "AADSTS700027: Client assertion failed signature validation.")
        else:
            return refuse("invalid_client", "no credential")
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": self._issue()})

    def _assertion_ok(self, client_id: str, assertion: str, token_url: str) -> bool:
        certificate = self.certificates.get(client_id)
        if certificate is None:
            return False
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64url_decode(header_b64))
        claims = json.loads(_b64url_decode(payload_b64))
        thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).decode().rstrip("=")
        if header.get("alg") != "PS256" or header.get("x5t#S256", "").rstrip("=") != thumbprint:
            return False
        if claims.get("iss") != client_id or claims.get("sub") != client_id or claims.get("aud") != token_url:
            return False
        public_key = certificate.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        try:
            public_key.verify(
                _b64url_decode(signature_b64),
                f"{header_b64}.{payload_b64}".encode(),
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        except Exception:
            return False
        return True

    async def _msi_token(self, request: web.Request) -> web.Response:
        self.token_requests.append({"grant_type": "managed_identity", **request.query})
        if request.headers.get("X-IDENTITY-HEADER") != MSI_HEADER:
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response(
            {
                "access_token": self._issue(),
                "expires_on": str(int(time.time()) + 3599),
                "resource": request.query.get("resource", ""),
                "token_type": "Bearer",
            }
        )

    # Graph ----------------------------------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)

    def _gate(self, request: web.Request) -> web.Response | None:
        """Authentication and scripted failures, in the order Graph applies them."""
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if (
            not auth.startswith("Bearer ")
            or token not in self._issued
            or token in self._revoked
            or self.reject_all_tokens
        ):
            return self._error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        if self.unavailable:
            return self._error(503, "serviceNotAvailable", "Service unavailable", {"Retry-After": "1"})
        if self.failures and self.failures[0].path_contains in request.path_qs:
            failure = self.failures.popleft()
            return self._error(failure.status, failure.code, "scripted failure", failure.headers)
        return None

    async def _answer(self, request: web.Request, handler: Any) -> web.Response:
        response: web.Response = self._gate(request) or await handler(request)
        self.requests.append((request.method, request.path_qs, response.status))
        return response

    def _flatten(self, group_id: str, seen: set[str] | None = None) -> list[str]:
        seen = seen if seen is not None else set()
        users: list[str] = []
        for member in self.groups.get(group_id, []):
            if member in self.groups:
                if member not in seen:
                    seen.add(member)
                    users.extend(u for u in self._flatten(member, seen) if u not in users)
            elif member not in users:
                users.append(member)
        return users

    def _select(self, user: dict[str, Any], query: str | None) -> dict[str, Any]:
        fields = (query or "").split(",") if query else list(user)
        return {"@odata.type": "#microsoft.graph.user", **{f: user.get(f) for f in fields}}

    async def _transitive_users(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> web.Response:
            if request.match_info["cast"] not in ("graph.user", "microsoft.graph.user"):
                return self._error(400, "Request_BadRequest", "unsupported cast")
            group_id = request.match_info["gid"]
            if group_id not in self.groups:
                return self._error(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not exist.")
            members = self._flatten(group_id)
            start = int(request.query.get("$skiptoken", "0"))
            page = members[start : start + self.page_size]
            body: dict[str, Any] = {
                "@odata.context": f"{self.graph_url}/$metadata#users",
                "value": [self._select(self.users.get(u, {"id": u}), request.query.get("$select")) for u in page],
            }
            if start + self.page_size < len(members):
                select = request.query.get("$select")
                query = f"$skiptoken={start + self.page_size}" + (f"&$select={select}" if select else "")
                body["@odata.nextLink"] = (
                    f"{self.graph_url}/groups/{group_id}/transitiveMembers/microsoft.graph.user?{query}"
                )
            return web.json_response(body)

        return await self._answer(request, handle)

    async def _user(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> web.Response:
            uid = request.match_info["uid"]
            # Graph takes a user principal name in place of the id.
            user = self.users.get(uid) or next(
                (u for u in self.users.values() if str(u.get("userPrincipalName", "")).lower() == uid.lower()), None
            )
            if user is None:
                return self._error(404, "Request_ResourceNotFound", "Resource does not exist.")
            return web.json_response(self._select(user, request.query.get("$select")))

        return await self._answer(request, handle)

    async def _send_mail(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> web.Response:
            mailbox = request.match_info["uid"]
            if mailbox not in self.mailboxes:
                # What an Exchange application access policy answers for a mailbox outside its scope.
                return self._error(403, "ErrorAccessDenied", "Access to OData is disabled.")
            self.mail.append(SentMail(mailbox=mailbox, body=await request.json()))
            return web.Response(status=202)

        return await self._answer(request, handle)

    async def _site_drive(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> web.Response:
            drive = self.sites.get(request.match_info["site"])
            if drive is None:
                return self._error(404, "itemNotFound", "The site does not exist.")
            return web.json_response({"@odata.context": f"{self.graph_url}/$metadata#drives/$entity", "id": drive})

        return await self._answer(request, handle)

    async def _upload(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> web.Response:
            drive = request.match_info["drive"]
            item = request.match_info["item"]  # "root:/folder/file.xlsx:", percent-decoded by aiohttp
            if drive not in self.sites.values():
                return self._error(404, "itemNotFound", "The drive does not exist.")
            if not (item.startswith("root:/") and item.endswith(":")):
                return self._error(400, "invalidRequest", f"not a path-based item: {item}")
            path = item[len("root:/") : -1]
            body = await request.read()
            created = (drive, path) not in self.files
            self.files[(drive, path)] = body
            return web.json_response(
                {"id": f"item-{abs(hash(path)) % 10_000}", "name": path.rsplit("/", 1)[-1], "size": len(body)},
                status=201 if created else 200,
            )

        return await self._answer(request, handle)
