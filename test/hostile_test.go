package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authserver/authserver/test/testserver"
)

const (
	form     = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// hostile is one hostile request and the answer it must get.
type hostile struct {
	name   string
	admin  bool // admin listener (account key sent unless authorization is set)
	method string
	path   string
	ctype  string
	body   string
	// chunked sends the body without a Content-Length.
	chunked       bool
	authorization string
	status        int
	// code is the RFC 6749 "error" on the public listener, the admin
	// API's error.code on the admin one; "" for a success.
	code string
}

// A table of hostile requests across the public and admin endpoints:
// operator injection, values of the wrong JSON type, duplicated
// parameters, two authentication methods, huge and odd Unicode values,
// 10 MB bodies, truncated JSON, wrong content types. Each gets its
// expected status and error code, never a 500, and the store is exactly
// as it was.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t) // its limits are out of the way: this test is about answers
	app := in.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read"}, "audiences": []string{api}})
	other := in.CreateApp(t, map[string]any{"name": "b", "scopes": []string{"read"}})
	// Test users exist only under test apps: the look-up of one is reached
	// only through such an app.
	testApp := in.CreateApp(t, map[string]any{"name": "t", "environment": "test"})
	otherToken := token(t, in, other)
	good := basic(app.ClientID, app.ClientSecret)
	secret := url.QueryEscape(app.ClientSecret)
	cc := "grant_type=client_credentials"
	tenMB := strings.Repeat("a", 10<<20)

	tests := []hostile{
		// Token endpoint: injection.
		{name: "client_id[$ne] operator", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id[$ne]=x&client_secret[$ne]=x", status: 401, code: "invalid_client"},
		{name: "client_id as a JSON object", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + url.QueryEscape(`{"$ne":null}`) + "&client_secret=" + secret, status: 401, code: "invalid_client"},
		{name: "Basic user as a JSON object", method: "POST", path: "/oauth2/token", ctype: form, body: cc, authorization: basic(`{"$gt":""}`, app.ClientSecret), status: 401, code: "invalid_client"},
		{name: "client_secret as a regex", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + app.ClientID + "&client_secret=" + url.QueryEscape(`{"$regex":".*"}`), status: 401, code: "invalid_client"},
		{name: "audience as an operator", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&audience=" + url.QueryEscape(`{"$ne":""}`), authorization: good, status: 400, code: "invalid_target"},
		{name: "javascript: resource", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&resource=javascript:alert(1)", authorization: good, status: 400, code: "invalid_target"},
		// Duplicates and two methods.
		{name: "duplicated client_id", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + app.ClientID + "&client_id=" + other.ClientID + "&client_secret=" + secret, status: 400, code: "invalid_request"},
		{name: "duplicated client_secret", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + app.ClientID + "&client_secret=x&client_secret=" + secret, status: 400, code: "invalid_request"},
		{name: "duplicated scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=read&scope=read", authorization: good, status: 400, code: "invalid_request"},
		{name: "Basic and form credentials", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + app.ClientID + "&client_secret=" + secret, authorization: good, status: 400, code: "invalid_request"},
		{name: "Basic and a client assertion", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c", authorization: good, status: 400, code: "invalid_request"},
		{name: "Basic for one client, client_id of another", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + other.ClientID, authorization: good, status: 400, code: "invalid_request"},
		// Scopes.
		{name: "huge scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=" + strings.Repeat("r", 60<<10), authorization: good, status: 400, code: "invalid_scope"},
		{name: "right-to-left override in scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=" + url.QueryEscape("read\u202edaer"), authorization: good, status: 400, code: "invalid_scope"},
		{name: "zero-width space in scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=" + url.QueryEscape("re\u200bad"), authorization: good, status: 400, code: "invalid_scope"},
		{name: "NUL in scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=read%00admin", authorization: good, status: 400, code: "invalid_scope"},
		{name: "fullwidth look-alike scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=" + url.QueryEscape("ｒｅａｄ"), authorization: good, status: 400, code: "invalid_scope"},
		{name: "invalid UTF-8 in scope", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=%ff%fe", authorization: good, status: 400, code: "invalid_scope"},
		// Credentials of odd shapes.
		{name: "10 KB client_id", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + strings.Repeat("a", 10<<10) + "&client_secret=" + secret, status: 401, code: "invalid_client"},
		{name: "NUL in client_id", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&client_id=" + app.ClientID + "%00&client_secret=" + secret, status: 401, code: "invalid_client"},
		{name: "Basic not base64", method: "POST", path: "/oauth2/token", ctype: form, body: cc, authorization: "Basic !!!not-base64!!!", status: 401, code: "invalid_client"},
		{name: "Basic without a colon", method: "POST", path: "/oauth2/token", ctype: form, body: cc, authorization: "Basic YWJj", status: 401, code: "invalid_client"},
		{name: "Basic with bad percent-encoding", method: "POST", path: "/oauth2/token", ctype: form, body: cc, authorization: "Basic JXp6OiV6eg==", status: 401, code: "invalid_client"}, // %zz:%zz
		{name: "credentials in the query string only", method: "POST", path: "/oauth2/token?client_id=" + app.ClientID + "&client_secret=" + secret, ctype: form, body: cc, status: 401, code: "invalid_client"},
		{name: "grant type with operators", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=" + url.QueryEscape(`{"$ne":""}`), authorization: good, status: 400, code: "unsupported_grant_type"},
		// Bodies and content types.
		{name: "10 MB body, token", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=" + tenMB, authorization: good, status: 400, code: "invalid_request"},
		{name: "10 MB chunked body, token", method: "POST", path: "/oauth2/token", ctype: form, body: cc + "&scope=" + tenMB, chunked: true, authorization: good, status: 400, code: "invalid_request"},
		{name: "JSON to the token endpoint", method: "POST", path: "/oauth2/token", ctype: jsonType, body: `{"grant_type":"client_credentials"}`, authorization: good, status: 400, code: "invalid_request"},
		{name: "multipart to the token endpoint", method: "POST", path: "/oauth2/token", ctype: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n", authorization: good, status: 400, code: "invalid_request"},
		{name: "text/plain to the token endpoint", method: "POST", path: "/oauth2/token", ctype: "text/plain", body: cc, authorization: good, status: 400, code: "invalid_request"},
		{name: "malformed percent-encoding", method: "POST", path: "/oauth2/token", ctype: form, body: "grant_type=%zz", authorization: good, status: 400, code: "invalid_request"},
		{name: "GET on the token endpoint", method: "GET", path: "/oauth2/token?" + cc, authorization: good, status: 405, code: "invalid_request"},
		// Introspection and revocation.
		{name: "introspect token[$ne]", method: "POST", path: "/oauth2/introspect", ctype: form, body: "token[$ne]=x", authorization: good, status: 400, code: "invalid_request"},
		{name: "introspect duplicated token", method: "POST", path: "/oauth2/introspect", ctype: form, body: "token=a&token=b", authorization: good, status: 400, code: "invalid_request"},
		{name: "introspect JSON", method: "POST", path: "/oauth2/introspect", ctype: jsonType, body: `{"token":{"$ne":""}}`, authorization: good, status: 400, code: "invalid_request"},
		{name: "introspect 10 MB body", method: "POST", path: "/oauth2/introspect", ctype: form, body: "token=" + tenMB, authorization: good, status: 400, code: "invalid_request"},
		{name: "introspect 10 MB chunked body", method: "POST", path: "/oauth2/introspect", ctype: form, body: "token=" + tenMB, chunked: true, authorization: good, status: 400, code: "invalid_request"},
		{name: "revoke token[$ne]", method: "POST", path: "/oauth2/revoke", ctype: form, body: "token[$ne]=x", authorization: good, status: 400, code: "invalid_request"},
		{name: "revoke another client's token", method: "POST", path: "/oauth2/revoke", ctype: form, body: "token=" + otherToken, authorization: good, status: 400, code: "unauthorized_client"},
		{name: "revoke with a bearer token as credential", method: "POST", path: "/oauth2/revoke", ctype: form, body: "token=" + otherToken, authorization: "Bearer " + otherToken, status: 401, code: "invalid_client"},
		{name: "revoke text/plain", method: "POST", path: "/oauth2/revoke", ctype: "text/plain", body: "token=" + otherToken, authorization: basic(other.ClientID, other.ClientSecret), status: 400, code: "invalid_request"},
		// End-user routes.
		{name: "customer_authenticate username[$ne]", method: "POST", path: "/customer_authenticate", ctype: form, body: "client_id=" + app.ClientID + "&username[$ne]=x&password[$ne]=x", status: 400, code: "invalid_request"},
		{name: "customer_authenticate username as an object", method: "POST", path: "/customer_authenticate", ctype: form, body: "client_id=" + testApp.ClientID + "&username=" + url.QueryEscape(`{"$gt":""}`) + "&password=x", status: 400, code: "invalid_grant"},
		{name: "customer_authenticate JSON", method: "POST", path: "/customer_authenticate", ctype: jsonType, body: `{"client_id":"` + app.ClientID + `","username":{"$ne":""}}`, status: 400, code: "invalid_request"},
		{name: "customer_authenticate 10 MB body", method: "POST", path: "/customer_authenticate", ctype: form, body: "client_id=" + app.ClientID + "&username=" + tenMB, status: 400, code: "invalid_request"},
		{name: "customer_authenticate customer_id twice", method: "POST", path: "/customer_authenticate", ctype: form, body: "customer_id=a&customer_id=b", authorization: good, status: 400, code: "invalid_request"},
		{name: "getprofile without a token", method: "POST", path: "/getprofile", ctype: form, body: "x=1", status: 401, code: "unauthorized"},
		{name: "getprofile with a client secret as token", method: "POST", path: "/getprofile", ctype: form, body: "x=1", authorization: "Bearer " + app.ClientSecret, status: 401, code: "invalid_token"},
		// Other public routes.
		{name: "POST to the JWKS", method: "POST", path: "/.well-known/jwks.json", ctype: form, body: "x=1", status: 405, code: "invalid_request"},
		{name: "8 KB unknown path", method: "GET", path: "/" + strings.Repeat("x", 8<<10), status: 404, code: "not_found"},
		{name: "10 MB body to /healthz", method: "POST", path: "/healthz", ctype: form, body: tenMB, status: 400, code: "invalid_request"},

		// Admin API: JSON of the wrong shape.
		{name: "admin: name as an operator object", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":{"$ne":""}}`, status: 400, code: "invalid_json"},
		{name: "admin: name as an array", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":["a"]}`, status: 400, code: "invalid_json"},
		{name: "admin: scopes as a string", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"x","scopes":"read"}`, status: 400, code: "invalid_json"},
		{name: "admin: duplicated key, object last", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","name":{"$ne":1}}`, status: 400, code: "invalid_json"},
		{name: "admin: $where field", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","$where":"sleep(1000)"}`, status: 400, code: "invalid_json"},
		{name: "admin: _id and enabled fields", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","_id":"app_live_mine","enabled":false}`, status: 400, code: "invalid_json"},
		{name: "admin: truncated JSON", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"x"`, status: 400, code: "invalid_json"},
		{name: "admin: two objects", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a"}{"name":"b"}`, status: 400, code: "invalid_json"},
		{name: "admin: top-level array", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `[{"name":"a"}]`, status: 400, code: "invalid_json"},
		{name: "admin: deeply nested", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, status: 400, code: "invalid_json"},
		// Admin API: values.
		{name: "admin: 10 000 character name", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"` + strings.Repeat("n", 10000) + `"}`, status: 400, code: "invalid_name"},
		{name: "admin: blank name", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"   "}`, status: 400, code: "invalid_name"},
		{name: "admin: Unicode scope", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","scopes":["r\u00e9ad"]}`, status: 400, code: "invalid_scope"},
		{name: "admin: scope with a space", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","scopes":["read write"]}`, status: 400, code: "invalid_scope"},
		{name: "admin: audience with a newline", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","audiences":["https://a\nb"]}`, status: 400, code: "invalid_audience"},
		{name: "admin: javascript: origin", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","origins":["javascript:alert(1)"]}`, status: 400, code: "invalid_origin"},
		{name: "admin: negative lifetime", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","access_token_lifetime":"-1h"}`, status: 400, code: "invalid_lifetime"},
		{name: "admin: absurd lifetime", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","access_token_lifetime":"1e30h"}`, status: 400, code: "invalid_lifetime"},
		{name: "admin: unknown environment", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a","environment":"prod"}`, status: 400, code: "invalid_environment"},
		// Admin API: bodies and content types.
		{name: "admin: text/plain", admin: true, method: "POST", path: "/admin/v1/apps", ctype: "text/plain", body: `{"name":"a"}`, status: 415, code: "unsupported_media_type"},
		{name: "admin: no content type", admin: true, method: "POST", path: "/admin/v1/apps", body: `{"name":"a"}`, status: 415, code: "unsupported_media_type"},
		{name: "admin: form body", admin: true, method: "POST", path: "/admin/v1/apps", ctype: form, body: "name=a", status: 415, code: "unsupported_media_type"},
		{name: "admin: 10 MB body", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"` + tenMB + `"}`, status: 413, code: "body_too_large"},
		{name: "admin: 10 MB chunked body", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"` + tenMB + `"}`, chunked: true, status: 413, code: "body_too_large"},
		// Admin API: ids, queries, authentication.
		{name: "admin: id as an operator", admin: true, method: "GET", path: "/admin/v1/apps/" + url.PathEscape(`{"$ne":null}`), status: 404, code: "not_found"},
		{name: "admin: name filter as a regex", admin: true, method: "GET", path: "/admin/v1/apps?name=" + url.QueryEscape(`{"$regex":".*"}`), status: 200},
		{name: "admin: name[$regex] filter", admin: true, method: "GET", path: "/admin/v1/apps?name[$regex]=.*", status: 200},
		{name: "admin: limit 1e9", admin: true, method: "GET", path: "/admin/v1/apps?limit=1000000000", status: 400, code: "invalid_limit"},
		{name: "admin: negative limit", admin: true, method: "GET", path: "/admin/v1/apps?limit=-1", status: 400, code: "invalid_limit"},
		{name: "admin: access token as account key", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a"}`, authorization: "Bearer " + otherToken, status: 401, code: "unauthenticated"},
		{name: "admin: client secret as account key", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a"}`, authorization: "Bearer " + app.ClientSecret, status: 401, code: "unauthenticated"},
		{name: "admin: Basic credentials", admin: true, method: "POST", path: "/admin/v1/apps", ctype: jsonType, body: `{"name":"a"}`, authorization: good, status: 401, code: "unauthenticated"},
		{name: "admin: DELETE the collection", admin: true, method: "DELETE", path: "/admin/v1/apps", status: 405, code: "method_not_allowed"},
		// Admin API: the lifecycle routes.
		{name: "admin: update with an operator", admin: true, method: "PATCH", path: "/admin/v1/apps/" + app.ClientID, ctype: jsonType, body: `{"scopes":{"$set":["admin"]}}`, status: 400, code: "invalid_json"},
		{name: "admin: rotate with a grace period object", admin: true, method: "POST", path: "/admin/v1/apps/" + app.ClientID + "/secrets/rotate", ctype: jsonType, body: `{"grace_period":{"$gt":""}}`, status: 400, code: "invalid_json"},
		{name: "admin: discard a secret named by an operator", admin: true, method: "POST", path: "/admin/v1/apps/" + app.ClientID + "/secrets/" + url.PathEscape(`{"$ne":1}`) + "/discard", status: 404, code: "secret_not_found"},
		{name: "admin: delete a secret, confirm as an operator", admin: true, method: "DELETE", path: "/admin/v1/apps/" + app.ClientID + "/secrets/" + app.SecretID + "?confirm[$ne]=x", status: 400, code: "confirmation_required"},
		{name: "admin: immediate as a string", admin: true, method: "POST", path: "/admin/v1/signing-keys/rotate", ctype: jsonType, body: `{"immediate":"yes"}`, status: 400, code: "invalid_json"},
		{name: "admin: delete a key, confirm as an operator", admin: true, method: "DELETE", path: "/admin/v1/signing-keys/x?confirm[$ne]=x", status: 400, code: "confirmation_required"},
		{name: "admin: account key with an operator role", admin: true, method: "POST", path: "/admin/v1/account-keys", ctype: jsonType, body: `{"name":"k","role":{"$ne":"viewer"}}`, status: 400, code: "invalid_json"},
		{name: "admin: 10 MB body to rotate", admin: true, method: "POST", path: "/admin/v1/apps/" + app.ClientID + "/secrets/rotate", ctype: jsonType, body: `{"grace_period":"` + tenMB + `"}`, status: 413, code: "body_too_large"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d hostile requests", len(tests))
	}
	before := in.DumpStore(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code, raw := sendHostile(t, in, tc)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %q (%.300s), want %d %q", status, code, raw, tc.status, tc.code)
			}
		})
	}
	assertStoreUnchanged(t, in, before)
	// And the server is fine.
	if _, err := in.Server.Keys.Sign([]byte("{}")); err != nil {
		t.Fatal(err)
	}
	if tok := token(t, in, app); tok == "" {
		t.Fatal("no token after the hostile requests")
	}
}

// sendHostile sends tc and returns the status, the error code (RFC 6749
// shape on the public listener, the admin shape on the admin one) and the
// raw body.
func sendHostile(t *testing.T, in *testserver.Instance, tc hostile) (int, string, []byte) {
	t.Helper()
	base := in.PublicURL
	if tc.admin {
		base = in.AdminURL
	}
	var body io.Reader = strings.NewReader(tc.body)
	if tc.chunked {
		body = io.MultiReader(strings.NewReader(tc.body)) // no length known: chunked
	}
	req, err := http.NewRequest(tc.method, base+tc.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if tc.body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if tc.ctype != "" {
		req.Header.Set("Content-Type", tc.ctype)
	}
	switch {
	case tc.authorization != "":
		req.Header.Set("Authorization", tc.authorization)
	case tc.admin:
		req.Header.Set("Authorization", "Bearer "+in.AdminKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", tc.method, tc.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("server error %d: %s", resp.StatusCode, raw)
	}
	if resp.StatusCode < 300 {
		return resp.StatusCode, "", raw
	}
	if tc.admin {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Message == "" {
			t.Fatalf("admin error not in the admin shape: %s", raw)
		}
		return resp.StatusCode, e.Error.Code, raw
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Description == "" {
		t.Fatalf("error not in the RFC 6749 §5.2 shape: %s", raw)
	}
	return resp.StatusCode, e.Error, raw
}
