package interop

import "slices"

// serverAlgs are the tokens.algorithm values the matrix runs against: one
// server process each.
var serverAlgs = []string{"RS256", "ES256", "EdDSA"}

// scenario is one thing a client does against the server. id is what the
// clients and docs/interop.md call it.
type scenario struct {
	id    string
	title string
	// credentialScope is what the token a row returns must carry
	// (credential_scope claim); "" when the row returns no token.
	credentialScope string
	// afterRotation rows run after "keys rotate --immediate", with the
	// verifier the "verify" row set up before it.
	afterRotation bool
	// dpopBound rows return a token that must be bound (cnf.jkt, RFC
	// 9449 §6.1) to the key whose thumbprint the row reports.
	dpopBound bool
	// nonceApp rows run as the app that requires DPoP nonces.
	nonceApp bool
}

// Scenario ids.
const (
	scDiscovery     = "discovery"
	scDiscoveryOIDC = "discovery-oidc"
	scBasic         = "cc-basic"
	scPost          = "cc-post"
	scPKJWTRS256    = "cc-pkjwt-RS256"
	scPKJWTES256    = "cc-pkjwt-ES256"
	scPKJWTEd25519  = "cc-pkjwt-Ed25519"
	scCSJWT         = "cc-csjwt"
	scIntrospect    = "introspect"
	scRevoke        = "revoke"
	scDelegated     = "delegated-getprofile"
	scSecureMode    = "secure-mode"
	scVerify        = "verify"
	scVerifyRotated = "verify-rotated"
	scDPoPCC        = "dpop-cc"
	scDPoPProfile   = "dpop-getprofile"
	scDPoPNonce     = "dpop-nonce"
	scDPoPBearer    = "dpop-refused-bearer"
	scDPoPOtherKey  = "dpop-refused-other-key"
	scDPoPReplay    = "dpop-refused-replay"
	scDPoPHTU       = "dpop-refused-htu"
	scDPoPHTM       = "dpop-refused-htm"
	scDPoPStale     = "dpop-refused-stale"
)

// scenarios in the order docs/interop.md lists them.
var scenarios = []scenario{
	{id: scDiscovery, title: "discovery: the library reads /.well-known/oauth-authorization-server (RFC 8414) and accepts it"},
	{id: scDiscoveryOIDC, title: "discovery the library's default way: /.well-known/openid-configuration first"},
	{id: scBasic, title: "client credentials grant, client_secret_basic", credentialScope: "app"},
	{id: scPost, title: "client credentials grant, client_secret_post", credentialScope: "app"},
	{id: scPKJWTRS256, title: "client credentials grant, private_key_jwt signed RS256", credentialScope: "app"},
	{id: scPKJWTES256, title: "client credentials grant, private_key_jwt signed ES256", credentialScope: "app"},
	{id: scPKJWTEd25519, title: "client credentials grant, private_key_jwt signed with an Ed25519 key (alg as the library names it)", credentialScope: "app"},
	{id: scCSJWT, title: "client credentials grant, client_secret_jwt (HS256)", credentialScope: "app"},
	{id: scIntrospect, title: "token introspection (RFC 7662) of the client's own token: active, with its client_id"},
	{id: scRevoke, title: "token revocation (RFC 7009), then introspection says active: false"},
	{id: scDelegated, title: "delegated POST /customer_authenticate (app credential + customer_id), then POST /getprofile with the appUser token", credentialScope: "appUser"},
	{id: scSecureMode, title: "secure mode: a user assertion the app signed (alg of the server's column: RS256, ES256, EdDSA) exchanged at /customer_authenticate", credentialScope: "appUser"},
	{id: scVerify, title: "offline verification of an access token against the JWKS (signature, iss, aud, exp)"},
	{id: scVerifyRotated, title: "the same verifier instance, after `keys rotate --immediate`, verifies a token of the new key (unknown kid: refetch)", afterRotation: true},
	{id: scDPoPCC, title: "DPoP (RFC 9449): client credentials grant with the library's DPoP handle: token_type DPoP, a token bound to the handle's key (cnf.jkt)", credentialScope: "app", dpopBound: true},
	{id: scDPoPProfile, title: "DPoP: delegated /customer_authenticate with a proof, then POST /getprofile with the bound token and a fresh proof", credentialScope: "appUser", dpopBound: true},
	{id: scDPoPNonce, title: "DPoP with an app that requires nonces: use_dpop_nonce answered at /customer_authenticate, its nonce kept for /getprofile (one nonce per origin)", credentialScope: "appUser", dpopBound: true, nonceApp: true},
	{id: scDPoPBearer, title: "DPoP refusal at /getprofile: the bound token sent as a bearer token: 401, DPoP error=\"invalid_token\""},
	{id: scDPoPOtherKey, title: "DPoP refusal: a proof signed by another key than the token's: 401 invalid_token"},
	{id: scDPoPReplay, title: "DPoP refusal: a proof sent a second time: 401 invalid_dpop_proof"},
	{id: scDPoPHTU, title: "DPoP refusal: a proof for another URL (htu): 401 invalid_dpop_proof"},
	{id: scDPoPHTM, title: "DPoP refusal: a proof for another method (htm GET): 401 invalid_dpop_proof"},
	{id: scDPoPStale, title: "DPoP refusal: a proof signed 5 minutes ago (iat): 401 invalid_dpop_proof"},
}

func scenarioByID(id string) scenario {
	for _, s := range scenarios {
		if s.id == id {
			return s
		}
	}
	panic("unknown scenario " + id)
}

// Runners: the program that runs a library's rows.
const (
	runnerNode   = "node"
	runnerPython = "python"
	runnerGo     = "go"
	runnerCurl   = "curl"
	runnerJava   = "java"
)

// library is one client or verifier in the matrix.
type library struct {
	name   string
	runner string
	// role says what the library is used as, and note what a reader of
	// docs/interop.md should know about how it was set up.
	role      string
	note      string
	scenarios []string
	// retrySeconds bounds how long a verify-rotated row may keep retrying:
	// for libraries that document a cooldown between JWKS refetches, so
	// that the row measures whether they follow a rotation within it.
	retrySeconds int
}

var (
	clientScenarios = []string{scBasic, scPost, scPKJWTRS256, scPKJWTES256, scPKJWTEd25519, scCSJWT, scIntrospect, scRevoke}
	verifyScenarios = []string{scVerify, scVerifyRotated}
	dpopScenarios   = []string{scDPoPCC, scDPoPProfile, scDPoPNonce}
	dpopRefusals    = []string{scDPoPBearer, scDPoPOtherKey, scDPoPReplay, scDPoPHTU, scDPoPHTM, scDPoPStale}
)

// libraries in the order docs/interop.md lists them.
var libraries = []library{
	{name: "openid-client", runner: runnerNode, role: "OAuth client (Node's built-in fetch)",
		note: "`discovery` uses `algorithm: 'oauth2'`; `discovery-oidc` its default. The end-user grants use a Configuration whose token endpoint is /customer_authenticate. " +
			"DPoP: `getDPoPHandle` on `randomDPoPKeyPair()` (ES256) for the grants and `fetchProtectedResource`; the refusal rows send the token without the handle, with a handle of another key, " +
			"a proof captured with `customFetch` a second time, and proofs changed by `modifyAssertion` before signing.",
		scenarios: concat([]string{scDiscovery, scDiscoveryOIDC}, clientScenarios, []string{scDelegated, scSecureMode}, dpopScenarios, dpopRefusals)},
	{name: "oauth4webapi", runner: runnerNode, role: "OAuth client (Node's built-in fetch)",
		note: "openid-client is built on it; set up the same way (`algorithm: 'oauth2'`, an AuthorizationServer whose token endpoint is /customer_authenticate for the end-user grants). " +
			"DPoP: `oauth.DPoP` on `generateKeyPair('ES256')`; the caller retries a `use_dpop_nonce` answer once (`isDPoPNonceError`), as its documentation shows.",
		scenarios: concat([]string{scDiscovery, scDiscoveryOIDC}, clientScenarios, []string{scDelegated, scSecureMode}, dpopScenarios)},
	{name: "simple-oauth2", runner: runnerNode, role: "OAuth client (@hapi/wreck on node:http)",
		scenarios: []string{scBasic, scPost}},
	{name: "jose", runner: runnerNode, role: "JWT verifier (createRemoteJWKSet) and assertion signer; exchange on fetch",
		note:      "Refetches the JWKS on an unknown kid, but not within `cooldownDuration` (30 s by default) of its last fetch: after an immediate rotation it refuses the new key's tokens for up to 30 s.",
		scenarios: concat(verifyScenarios, []string{scSecureMode}), retrySeconds: 45},
	{name: "jsonwebtoken + jwks-rsa", runner: runnerNode, role: "JWT verifier and assertion signer; exchange on fetch",
		scenarios: concat(verifyScenarios, []string{scSecureMode})},
	{name: "express-oauth2-jwt-bearer", runner: runnerNode, role: "resource-server middleware (express), discovery from issuerBaseURL, strict RFC 9068 checks",
		note:      "Built on jose 4's createRemoteJWKSet: the same 30 s cooldown after a rotation. Its discovery falls back from /.well-known/openid-configuration to /.well-known/oauth-authorization-server.",
		scenarios: verifyScenarios, retrySeconds: 45},
	{name: "authlib", runner: runnerPython, role: "OAuth client (requests), JWT verifier, AssertionSession for secure mode",
		note:      "Has no JWKS client: its verifier rows fetch the JWKS for each token.",
		scenarios: concat(clientScenarios, verifyScenarios, []string{scSecureMode})},
	{name: "requests-oauthlib", runner: runnerPython, role: "OAuth client (BackendApplicationClient)",
		note:      "Sends the scope only when given to BackendApplicationClient, not to OAuth2Session; needs OAUTHLIB_INSECURE_TRANSPORT=1 for the suite's http issuer.",
		scenarios: []string{scBasic, scPost}},
	{name: "requests", runner: runnerPython, role: "plain HTTP for the server's own endpoints",
		scenarios: []string{scDelegated}},
	{name: "PyJWT", runner: runnerPython, role: "JWT verifier (PyJWKClient) and assertion signer; exchange on requests",
		scenarios: concat(verifyScenarios, []string{scSecureMode})},
	{name: "jwcrypto", runner: runnerPython, role: "JWT verifier and assertion signer; exchange on requests",
		note:      "Has no JWKS client: its verifier rows fetch the JWKS for each token.",
		scenarios: concat(verifyScenarios, []string{scSecureMode})},
	{name: "java.net.http.HttpClient", runner: runnerJava, role: "plain HTTP (JDK 17's HttpClient, default builder) for the OAuth endpoints; JWT verifier on the JDK's KeyFactory and Signature",
		note: "Its default version is HTTP_2: on the suite's http:// issuer every request carries an h2c upgrade (`Connection: Upgrade, HTTP2-Settings`, `Upgrade: h2c`, `HTTP2-Settings`). " +
			"The verifier fetches the JWKS with HttpClient, caches the keys by kid and refetches on an unknown kid; it checks alg, typ `at+jwt`, iss, aud and exp.",
		scenarios: concat([]string{scDiscovery, scBasic, scPost, scIntrospect, scRevoke, scDelegated}, verifyScenarios)},
	{name: "java.net.HttpURLConnection", runner: runnerJava, role: "plain HTTP (JDK 17's HttpURLConnection) for the OAuth endpoints",
		note:      "With its defaults: `Accept: text/html, image/gif, image/jpeg, */*; q=0.2` (JDK 17.0.15; older builds sent `*; q=.2, */*; q=.2`), `User-Agent: Java/17...`, and for a POST with a body the Content-Type it sets itself (`application/x-www-form-urlencoded`).",
		scenarios: []string{scDiscovery, scBasic, scPost, scIntrospect, scRevoke, scDelegated}},
	{name: "golang.org/x/oauth2", runner: runnerGo, role: "OAuth client: clientcredentials; the jwt package for secure mode",
		scenarios: []string{scBasic, scPost, scSecureMode}},
	{name: "go-oidc", runner: runnerGo, role: "discovery (NewProvider) and verifier (NewRemoteKeySet)",
		note:      "The verifier is given the server's algorithm (Config.SupportedSigningAlgs): without an OpenID discovery document it accepts RS256 only.",
		scenarios: concat([]string{scDiscoveryOIDC}, verifyScenarios)},
	{name: "keyfunc + golang-jwt", runner: runnerGo, role: "JWT verifier (keyfunc.NewDefaultCtx)",
		note:      "Refetches on an unknown kid at most once every 5 minutes by default.",
		scenarios: verifyScenarios},
	{name: "jwx", runner: runnerGo, role: "JWT verifier (jwk.Cache) and assertion signer; exchange on net/http",
		scenarios: concat(verifyScenarios, []string{scSecureMode})},
	{name: "curl", runner: runnerCurl, role: "the README's commands",
		note:      "The DPoP rows are the README's test-harness commands: `authserver customer-token --dpop-key ... --dpop-resource ... -o headers` piped into `curl -H @-`.",
		scenarios: []string{scDiscovery, scBasic, scPost, scIntrospect, scRevoke, scDelegated, scDPoPProfile, scDPoPBearer, scDPoPReplay}},
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// expectation is why a row is expected to fail, and how to recognise that
// failure: match is a substring of the row's error that the reason
// explains. A row that fails otherwise, or passes, fails the suite: the
// mark must change with the code or the library.
type expectation struct {
	reason string
	match  string
}

// xfail marks rows as expected failures: those of libs (every library
// when empty) in scenarios (every scenario when empty) on servers of algs
// (every algorithm when empty).
type xfail struct {
	libs, scenarios, algs []string
	expect                []expectation
}

// expectedFailures are the rows known to fail, each with its reason. A
// server bug the matrix shows gets a mark whose reason begins "Server
// bug: " until its fix lands; none is open.
var expectedFailures = []xfail{
	// The libraries' own limits.
	{libs: []string{"jsonwebtoken + jwks-rsa"}, scenarios: verifyScenarios, algs: []string{"EdDSA"},
		expect: []expectation{{
			reason: "Library limit: jsonwebtoken 9 has no EdDSA; it refuses the Ed25519 public key (\"Unknown key type\").",
			match:  `Unknown key type "ed25519"`,
		}}},
	{libs: []string{"jsonwebtoken + jwks-rsa"}, scenarios: []string{scSecureMode}, algs: []string{"EdDSA"},
		expect: []expectation{{
			reason: "Library limit: jsonwebtoken 9 has no EdDSA; it cannot sign the assertion.",
			match:  `"algorithm" must be a valid string enum value`,
		}}},
	{libs: []string{"golang.org/x/oauth2"}, scenarios: []string{scSecureMode}, algs: []string{"ES256", "EdDSA"},
		expect: []expectation{{
			reason: "Library limit: golang.org/x/oauth2/jwt signs RS256 only; it takes no other private key.",
			match:  "private key is invalid",
		}}},
	{libs: []string{"jwx"}, scenarios: []string{scVerifyRotated},
		expect: []expectation{{
			reason: "Library limit: jwx v3's jwk.Cache does not refetch the JWKS on an unknown kid; it refreshes on its own schedule (Cache-Control max-age, at least 15 minutes apart by default), so it refuses the new key's tokens until then.",
			match:  "failed to find key with key ID",
		}}},
}

// expected returns the expectations of a row; nil when it must pass.
func expected(lib, sc, alg string) []expectation {
	var out []expectation
	for _, x := range expectedFailures {
		if (len(x.libs) == 0 || slices.Contains(x.libs, lib)) &&
			(len(x.scenarios) == 0 || slices.Contains(x.scenarios, sc)) &&
			(len(x.algs) == 0 || slices.Contains(x.algs, alg)) {
			out = append(out, x.expect...)
		}
	}
	return out
}
