"""authlib's OpenID Connect client, unmodified, as a relying party of enlist:
discovery, the code flow with PKCE and a nonce, the ID token validated with
authlib's CodeIDToken rules against the provider's JWKS, then userinfo. The
person's part (the sign-in page) is played by a requests session. Prints
what it saw as one JSON line; tests/api/relying_parties.rs asserts on it.

usage: python3 authlib_client.py '{"issuer": ..., "clientId": ..., "redirectUri": ...,
                                   "email": ..., "password": ...}'
"""

import html
import json
import re
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

args = json.loads(sys.argv[1])
issuer = args["issuer"]
metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert metadata["issuer"] == issuer, metadata["issuer"]

session = OAuth2Session(
    args["clientId"],
    scope="openid email profile",
    redirect_uri=args["redirectUri"],
    token_endpoint_auth_method="none",
    code_challenge_method="S256",
)
code_verifier = generate_token(48)
nonce = generate_token(20)
url, state = session.create_authorization_url(
    metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
)

# The person signs in on enlist's page.
browser = requests.Session()
page = browser.get(url, allow_redirects=False, timeout=10)
assert page.status_code == 200, page.status_code
form = next(f for f in page.text.split("<form") if 'name="intent" value="signin"' in f)
fields = {
    name: html.unescape(value)
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
}
fields.update(email=args["email"], password=args["password"])
signed_in = browser.post(
    f"{issuer}/oauth/authorize", data=fields, allow_redirects=False, timeout=10
)
callback = signed_in.headers.get("location", "")
assert signed_in.status_code == 303 and callback.startswith(args["redirectUri"]), (
    signed_in.status_code,
    callback,
)

# The library takes over: the state, the code, the tokens.
token = session.fetch_token(
    metadata["token_endpoint"],
    authorization_response=callback,
    code_verifier=code_verifier,
    state=state,
)
keys = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
claims = jwt.decode(
    token["id_token"],
    keys,
    claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "values": [metadata["issuer"]]}},
    claims_params={"nonce": nonce, "client_id": args["clientId"]},
)
claims.validate(leeway=5)
userinfo = session.get(metadata["userinfo_endpoint"], timeout=10).json()

print(json.dumps({"idTokenClaims": dict(claims), "userinfo": userinfo, "scope": token.get("scope")}))
