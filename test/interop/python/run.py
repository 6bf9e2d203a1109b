"""The Python libraries' rows of authserver's interop suite (test/interop).

Runs on Debian's python3 with Debian's packages (python3-authlib,
python3-requests-oauthlib, python3-jwt, python3-jwcrypto). Line protocol on
stdin/stdout: the job as the first JSON line; one JSON line per row result;
{"done":"before"}; then {"phase":"after","token"} for the rows that follow
a key rotation, answered by {"done":"after"}.
"""

import base64
import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

# oauthlib refuses plain http unless told otherwise; the suite's issuer is
# http on loopback. This is oauthlib's documented switch.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

import jwcrypto.jwk  # noqa: E402
import jwcrypto.jwt  # noqa: E402
import jwt as pyjwt  # noqa: E402
import requests  # noqa: E402
from authlib.integrations.requests_client import AssertionSession, OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT  # noqa: E402
from oauthlib.oauth2 import BackendApplicationClient  # noqa: E402
from requests.auth import HTTPBasicAuth  # noqa: E402
from requests_oauthlib import OAuth2Session as OAuthlibSession  # noqa: E402

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DELEGATED = "urn:authserver:params:oauth:grant-type:delegated"
TIMEOUT = 20  # seconds, per HTTP request

_out = threading.Lock()


def emit(v):
    with _out:
        sys.stdout.write(json.dumps(v) + "\n")
        sys.stdout.flush()


def payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def must(cond, message):
    if not cond:
        raise AssertionError(message)


def describe(err):
    """One line for an error, with the server's answer when there is one."""
    text = "%s: %s" % (type(err).__name__, err)
    for attr in ("error", "description"):
        v = getattr(err, attr, None)
        if isinstance(v, str) and v and v not in text:
            text += "; %s=%s" % (attr, v)
    resp = getattr(err, "response", None)
    if resp is not None and getattr(resp, "text", None):
        text += "; HTTP %s: %s" % (resp.status_code, resp.text[:500])
    return text


def check_response(resp):
    if resp.status_code != 200:
        raise AssertionError("HTTP %d: %s" % (resp.status_code, resp.text[:500]))
    return resp.json()


def exchange(job, assertion):
    """Posts a user assertion to /customer_authenticate with requests."""
    resp = requests.post(job["customer_authenticate_endpoint"],
                         data={"grant_type": JWT_BEARER, "assertion": assertion}, timeout=TIMEOUT)
    return {"token": check_response(resp)["access_token"]}


def user_claims(job):
    now = int(time.time())
    return {"iss": job["client_id"], "sub": job["customer_id"], "aud": job["issuer"],
            "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}


# --- authlib ---------------------------------------------------------------

def authlib_session(job, method, key=None, alg=None):
    if method in ("client_secret_basic", "client_secret_post"):
        return OAuth2Session(job["client_id"], job["client_secret"], token_endpoint_auth_method=method,
                             scope=job["scope"], default_timeout=TIMEOUT)
    if method == "client_secret_jwt":
        s = OAuth2Session(job["client_id"], job["client_secret"], token_endpoint_auth_method=method,
                          scope=job["scope"], default_timeout=TIMEOUT)
        s.register_client_auth_method(ClientSecretJWT(job["token_endpoint"]))
        return s
    jwk = job["keys"][key]
    s = OAuth2Session(job["client_id"], jwk, token_endpoint_auth_method="private_key_jwt",
                      scope=job["scope"], default_timeout=TIMEOUT)
    s.register_client_auth_method(PrivateKeyJWT(job["token_endpoint"], alg=alg, headers={"kid": jwk["kid"]}))
    return s


def authlib_token(job, method, key=None, alg=None):
    s = authlib_session(job, method, key, alg)
    return {"token": s.fetch_token(job["token_endpoint"], grant_type="client_credentials")["access_token"]}


def authlib_introspect(job):
    s = authlib_session(job, "client_secret_basic")
    tok = s.fetch_token(job["token_endpoint"], grant_type="client_credentials")["access_token"]
    r = check_response(s.introspect_token(job["introspection_endpoint"], token=tok))
    must(r.get("active") is True and r.get("client_id") == job["client_id"], "introspection: %s" % r)
    return {}


def authlib_revoke(job):
    s = authlib_session(job, "client_secret_basic")
    tok = s.fetch_token(job["token_endpoint"], grant_type="client_credentials")["access_token"]
    resp = s.revoke_token(job["revocation_endpoint"], token=tok)
    must(resp.status_code == 200, "revocation: HTTP %d: %s" % (resp.status_code, resp.text[:500]))
    r = check_response(s.introspect_token(job["introspection_endpoint"], token=tok))
    must(r.get("active") is False, "a revoked token introspects as %s" % r)
    return {}


def authlib_secure_mode(job):
    """authlib's AssertionSession signs the user assertion and runs the JWT
    bearer grant (RFC 7523 §2.1) at /customer_authenticate."""
    key = job["secure_mode_key"]
    s = AssertionSession(job["customer_authenticate_endpoint"], issuer=job["client_id"], subject=job["customer_id"],
                         audience=job["issuer"], claims={"jti": str(uuid.uuid4())}, key=key,
                         alg=job["secure_mode_alg"], header={"kid": key["kid"]}, expires_in=300,
                         default_timeout=TIMEOUT)
    return {"token": s.refresh_token()["access_token"]}


def authlib_verifier(job):
    """authlib has no JWKS client: the verifier fetches the JWKS for each
    token and verifies with authlib.jose."""
    jwt = JsonWebToken([job["server_alg"]])

    def verify(token):
        keys = JsonWebKey.import_key_set(check_response(requests.get(job["jwks_uri"], timeout=TIMEOUT)))
        claims = jwt.decode(token, keys, claims_options={
            "iss": {"essential": True, "value": job["issuer"]},
            "aud": {"essential": True, "value": job["audience"]},
            "exp": {"essential": True},
        })
        claims.validate()
        return dict(claims)
    return verify


# --- requests-oauthlib -------------------------------------------------------

def oauthlib_session(job):
    """The scope goes on the oauthlib client, which puts it in the token
    request; the session's own scope is only compared with the answer."""
    scope = [job["scope"]]
    return OAuthlibSession(client=BackendApplicationClient(client_id=job["client_id"], scope=scope), scope=scope)


def oauthlib_basic(job):
    s = oauthlib_session(job)
    tok = s.fetch_token(job["token_endpoint"], auth=HTTPBasicAuth(job["client_id"], job["client_secret"]), timeout=TIMEOUT)
    return {"token": tok["access_token"]}


def oauthlib_post(job):
    s = oauthlib_session(job)
    tok = s.fetch_token(job["token_endpoint"], client_id=job["client_id"], client_secret=job["client_secret"],
                        include_client_id=True, timeout=TIMEOUT)
    return {"token": tok["access_token"]}


# --- requests ----------------------------------------------------------------

def requests_delegated(job):
    auth = (job["client_id"], job["client_secret"])
    t = check_response(requests.post(job["customer_authenticate_endpoint"], auth=auth,
                                     data={"grant_type": DELEGATED, "customer_id": job["customer_id"]}, timeout=TIMEOUT))
    token = t["access_token"]
    profile = requests.post(job["getprofile_endpoint"], timeout=TIMEOUT,
                            headers={"Authorization": "Bearer " + token, "X-API-Key": job["client_id"]})
    if profile.status_code != 200:
        raise AssertionError("getprofile: HTTP %d: %s" % (profile.status_code, profile.text[:500]))
    must(profile.json().get("customer") == payload(token)["sub"], "getprofile answered %s" % profile.text)
    return {"token": token}


# --- PyJWT -------------------------------------------------------------------

def pyjwt_verifier(job):
    """PyJWKClient caches the JWKS (5 minutes) and refetches on an unknown kid."""
    jwks = pyjwt.PyJWKClient(job["jwks_uri"])

    def verify(token):
        key = jwks.get_signing_key_from_jwt(token)
        return pyjwt.decode(token, key.key, algorithms=[job["server_alg"]], audience=job["audience"], issuer=job["issuer"],
                            options={"require": ["exp", "iat", "iss", "aud"]})
    return verify


def pyjwt_secure_mode(job):
    key = pyjwt.PyJWK(job["secure_mode_key"], algorithm=job["secure_mode_alg"])
    assertion = pyjwt.encode(user_claims(job), key.key, algorithm=job["secure_mode_alg"],
                             headers={"kid": job["secure_mode_key"]["kid"]})
    return exchange(job, assertion)


# --- jwcrypto ----------------------------------------------------------------

def jwcrypto_verifier(job):
    """jwcrypto has no JWKS client: the verifier fetches the JWKS for each
    token and verifies with jwcrypto.jwt."""
    def verify(token):
        keys = jwcrypto.jwk.JWKSet.from_json(requests.get(job["jwks_uri"], timeout=TIMEOUT).text)
        t = jwcrypto.jwt.JWT(jwt=token, key=keys, algs=[job["server_alg"]],
                             check_claims={"iss": job["issuer"], "aud": job["audience"], "exp": None})
        return json.loads(t.claims)
    return verify


def jwcrypto_secure_mode(job):
    key = jwcrypto.jwk.JWK(**job["secure_mode_key"])
    t = jwcrypto.jwt.JWT(header={"alg": job["secure_mode_alg"], "kid": job["secure_mode_key"]["kid"]},
                         claims=user_claims(job))
    t.make_signed_token(key)
    return exchange(job, t.serialize())


ROWS = {
    ("authlib", "cc-basic"): lambda j: authlib_token(j, "client_secret_basic"),
    ("authlib", "cc-post"): lambda j: authlib_token(j, "client_secret_post"),
    ("authlib", "cc-pkjwt-RS256"): lambda j: authlib_token(j, "private_key_jwt", "RS256", "RS256"),
    ("authlib", "cc-pkjwt-ES256"): lambda j: authlib_token(j, "private_key_jwt", "ES256", "ES256"),
    ("authlib", "cc-pkjwt-Ed25519"): lambda j: authlib_token(j, "private_key_jwt", "Ed25519", "EdDSA"),
    ("authlib", "cc-csjwt"): lambda j: authlib_token(j, "client_secret_jwt"),
    ("authlib", "introspect"): authlib_introspect,
    ("authlib", "revoke"): authlib_revoke,
    ("authlib", "secure-mode"): authlib_secure_mode,
    ("requests-oauthlib", "cc-basic"): oauthlib_basic,
    ("requests-oauthlib", "cc-post"): oauthlib_post,
    ("requests", "delegated-getprofile"): requests_delegated,
    ("PyJWT", "secure-mode"): pyjwt_secure_mode,
    ("jwcrypto", "secure-mode"): jwcrypto_secure_mode,
}

VERIFIERS = {"authlib": authlib_verifier, "PyJWT": pyjwt_verifier, "jwcrypto": jwcrypto_verifier}

DISTRIBUTIONS = {"authlib": ["Authlib"], "requests-oauthlib": ["requests-oauthlib"], "requests": ["requests"],
                 "PyJWT": ["PyJWT"], "jwcrypto": ["jwcrypto"]}

_verifiers = {}


def verify_row(job, row, token):
    if row["scenario"] == "verify":
        verify = VERIFIERS[row["library"]](job)
        _verifiers[row["library"]] = verify
    else:
        verify = _verifiers.get(row["library"])
        must(verify is not None, "the verify row set up no verifier")
    start = time.monotonic()
    deadline = start + row.get("retry_seconds", 0)
    while True:
        try:
            out = {"claims": verify(token)}
            if row.get("retry_seconds"):
                out["detail"] = "accepted after %d s" % (time.monotonic() - start)
            return out
        except Exception:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1)


def run_row(job, row, token):
    try:
        if row["scenario"] in ("verify", "verify-rotated"):
            out = verify_row(job, row, token)
        else:
            f = ROWS.get((row["library"], row["scenario"]))
            must(f is not None, "run.py has no row %s %s" % (row["library"], row["scenario"]))
            out = f(job)
        emit(dict(library=row["library"], scenario=row["scenario"], ok=True, **out))
    except Exception as err:  # every failure is a row result
        emit(dict(library=row["library"], scenario=row["scenario"], ok=False, error=describe(err)))


def run_all(job, rows, token):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: run_row(job, r, token), rows))


def main():
    first = sys.stdin.readline()
    if not first:
        sys.exit(2)
    job = json.loads(first)
    versions = {lib: " + ".join(metadata.version(d) for d in dists) for lib, dists in DISTRIBUTIONS.items()}
    emit({"runtime": "Python %s" % sys.version.split()[0], "versions": versions})
    run_all(job, [r for r in job["rows"] if r["scenario"] != "verify-rotated"], job["token"])
    emit({"done": "before"})
    second = sys.stdin.readline()
    if not second:
        return
    nxt = json.loads(second)
    must(nxt.get("phase") == "after", "want the after phase, got %s" % second)
    run_all(job, [r for r in job["rows"] if r["scenario"] == "verify-rotated"], nxt["token"])
    emit({"done": "after"})
    sys.stdin.read()


if __name__ == "__main__":
    main()
