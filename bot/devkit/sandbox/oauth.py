"""Zoho Accounts (/oauth/v2/*) and the iSpring token endpoint.

Documented: the refresh request/response (more/zoho-oauth-refresh.md), the authorization redirect's
`location` and `accounts-server` parameters (more/zoho-data-centers.md), the 2-minute single-use grant code,
and iSpring's client-credentials token (more/ispring-token.md).

Sandbox assumptions (error bodies are not documented):
- bad client id/secret -> HTTP 400 {"error": "invalid_client"}; bad/revoked refresh token or grant code ->
  HTTP 200 {"error": "invalid_code"} (Zoho answers such errors with 200); redirect_uri mismatch -> HTTP 200
  {"error": "invalid_redirect_uri"}; unknown grant_type -> HTTP 400 {"error": "unsupported_grant_type"}.
- /oauth/v2/auth with a bad response_type/client/redirect_uri -> HTTP 400 {"error": "..."} (no redirect).
- revoke -> 200 {"status": "success"}, or 200 {"error": "invalid_token"} for an unknown token; revoking a
  refresh token also kills the access tokens issued from it.
- iSpring: bad credentials -> 401 {"code": 401, "message": "Unauthorized"}; wrong grant_type -> 400.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.devkit.sandbox.common import ApiRequest, ispring_error
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.state import AccessToken, AuthCode, SandboxState

SCOPE_ALL = "ZOHOPEOPLE.training.ALL"
SCOPE_READ = "ZOHOPEOPLE.training.READ"
API_DOMAIN = "https://www.zohoapis.com"
CODE_TTL = 120.0  # "A temporary token valid for two minutes ... It can only be obtained once"


def _zoho_secret() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def _refresh_scope(token: str | None, state: SandboxState, config: SandboxConfig) -> str | None:
    if token is None or token in state.revoked:
        return None
    if token == config.zoho_refresh_token:
        return SCOPE_ALL
    if token == config.zoho_readonly_refresh_token:
        return SCOPE_READ
    minted = state.minted_refresh.get(token)
    return minted[1] if minted else None


def _issue(state: SandboxState, config: SandboxConfig, scope: str, refresh: str) -> AccessToken:
    account = state.zoho_accounts.get(refresh, config.zoho_client_id)  # rate limits are kept per account
    token = AccessToken(_zoho_secret(), "zoho", account, scope, state.now() + config.zoho_token_ttl, refresh)
    state.tokens[token.token] = token
    return token


def zoho_token(req: ApiRequest, state: SandboxState, config: SandboxConfig) -> Response:
    client_id, secret = req.param("client_id"), req.param("client_secret")
    if client_id != config.zoho_client_id or secret != config.zoho_client_secret:
        return JSONResponse({"error": "invalid_client"}, status_code=400)
    grant = req.param("grant_type")
    if grant == "refresh_token":
        refresh = req.param("refresh_token")
        scope = _refresh_scope(refresh, state, config)
        if scope is None or refresh is None:
            return JSONResponse({"error": "invalid_code"})
        token = _issue(state, config, scope, refresh)
        return JSONResponse(
            {
                "access_token": token.token,
                "expires_in": config.zoho_token_ttl,
                "api_domain": API_DOMAIN,
                "token_type": "Bearer",
                "scope": scope,
            }
        )
    if grant == "authorization_code":
        code = state.auth_codes.pop(req.param("code") or "", None)  # single use, even when it then fails
        if code is None or code.expires_at < state.now() or code.client_id != client_id:
            return JSONResponse({"error": "invalid_code"})
        if code.redirect_uri != req.param("redirect_uri"):
            return JSONResponse({"error": "invalid_redirect_uri"})
        refresh = _zoho_secret()
        state.minted_refresh[refresh] = (code.client_id, code.scope)
        token = _issue(state, config, code.scope, refresh)
        return JSONResponse(
            {
                "access_token": token.token,
                "refresh_token": refresh,
                "expires_in": config.zoho_token_ttl,
                "api_domain": API_DOMAIN,
                "token_type": "Bearer",
                "scope": code.scope,
            }
        )
    return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)


def zoho_authorize(req: ApiRequest, state: SandboxState, config: SandboxConfig) -> Response:
    """Consent is implicit: the sandbox redirects straight back with a grant code."""
    if req.q("response_type") != "code":
        return JSONResponse({"error": "unsupported_response_type"}, status_code=400)
    if req.q("client_id") != config.zoho_client_id:
        return JSONResponse({"error": "invalid_client"}, status_code=400)
    redirect_uri = req.q("redirect_uri")
    if not redirect_uri:
        return JSONResponse({"error": "invalid_redirect_uri"}, status_code=400)
    code = AuthCode(
        _zoho_secret(),
        config.zoho_client_id,
        redirect_uri,
        req.q("scope") or SCOPE_ALL,
        state.now() + CODE_TTL,
    )
    state.auth_codes[code.code] = code
    params = {"code": code.code}
    if req.q("state") is not None:
        params["state"] = req.q("state") or ""
    params |= {"location": "us", "accounts-server": str(req.extra["base_url"])}
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)


def zoho_revoke(req: ApiRequest, state: SandboxState, config: SandboxConfig) -> Response:
    token = req.param("token")
    if _refresh_scope(token, state, config) is None or token is None:
        return JSONResponse({"error": "invalid_token"})
    state.revoked.add(token)
    state.minted_refresh.pop(token, None)
    for key in [k for k, t in state.tokens.items() if t.refresh_token == token]:
        del state.tokens[key]
    return JSONResponse({"status": "success"})


def ispring_token(req: ApiRequest, state: SandboxState, config: SandboxConfig) -> Response:
    client_id, secret = req.param("client_id"), req.param("client_secret")
    if client_id != config.ispring_client_id or secret != config.ispring_client_secret:
        return ispring_error(401)
    if req.param("grant_type") != "client_credentials":
        return ispring_error(400)
    token = AccessToken(secrets.token_urlsafe(32), "ispring", client_id, "", state.now() + config.ispring_token_ttl)
    state.tokens[token.token] = token
    return JSONResponse({"access_token": token.token, "expires_in": config.ispring_token_ttl, "token_type": "bearer"})
