package test

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every JSON answer of both listeners, successes and errors alike, those
// fosite writes included, carries X-Content-Type-Options: nosniff, so that
// no browser ever renders one as something else.
func TestEveryJSONAnswerIsNosniff(t *testing.T) {
	t.Parallel()
	in := startUsers(t)
	app := createTestApp(t, in, "nosniff")
	createUser(t, in, app.ClientID, "alice", "password-a", "")
	auth := basic(app.ClientID, app.ClientSecret)
	tok := token(t, in, app)
	user := loginToken(t, in, app.ClientID, "alice", "password-a")
	const form = "application/x-www-form-urlencoded"
	pub, adm := in.PublicURL, in.AdminURL
	admin := "Bearer " + in.AdminKey
	tests := []struct {
		name, method, url, contentType, body string
		header                               map[string]string
		status                               int
	}{
		{"token", "POST", pub + "/oauth2/token", form, "grant_type=client_credentials", map[string]string{"Authorization": auth}, 200},
		{"token alias", "POST", pub + "/access_token", form, "grant_type=client_credentials", map[string]string{"Authorization": auth}, 200},
		{"token, invalid_client (fosite's writer)", "POST", pub + "/oauth2/token", form, "grant_type=client_credentials", map[string]string{"Authorization": basic(app.ClientID, "sk_test_wrong")}, 401},
		{"token, unsupported grant (fosite's writer)", "POST", pub + "/oauth2/token", form, "grant_type=password", map[string]string{"Authorization": auth}, 400},
		{"token, invalid_scope (fosite's writer)", "POST", pub + "/oauth2/token", form, "grant_type=client_credentials&scope=admin", map[string]string{"Authorization": auth}, 400},
		{"token, malformed body", "POST", pub + "/oauth2/token", form, "grant_type=%zz", map[string]string{"Authorization": auth}, 400},
		{"token, JSON body", "POST", pub + "/oauth2/token", "application/json", "{}", nil, 400},
		{"customer_authenticate", "POST", pub + "/customer_authenticate", form, url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-a"}}.Encode(), nil, 200},
		{"customer_authenticate, invalid_grant", "POST", pub + "/customer_authenticate", form, url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"wrong"}}.Encode(), nil, 400},
		{"customer_authenticate, cookie mode", "POST", pub + "/customer_authenticate", form, url.Values{"client_id": {app.ClientID}, "username": {"alice"}, "password": {"password-a"}, "response_mode": {"cookie"}}.Encode(), nil, 200},
		{"introspection", "POST", pub + "/oauth2/introspect", form, "token=" + tok, map[string]string{"Authorization": auth}, 200},
		{"introspection, invalid_client", "POST", pub + "/oauth2/introspect", form, "token=" + tok, nil, 401},
		{"revocation, invalid_request", "POST", pub + "/oauth2/revoke", form, "", map[string]string{"Authorization": auth}, 400},
		{"getprofile", "POST", pub + "/getprofile", "", "", map[string]string{"Authorization": "Bearer " + user, "X-API-Key": app.ClientID}, 200},
		{"getprofile, no token", "POST", pub + "/getprofile", "", "", map[string]string{"X-API-Key": app.ClientID}, 401},
		{"getprofile, invalid token", "POST", pub + "/getprofile", "", "", map[string]string{"Authorization": "Bearer x.y.z", "X-API-Key": app.ClientID}, 401},
		{"getprofile, app mismatch", "POST", pub + "/getprofile", "", "", map[string]string{"Authorization": "Bearer " + user, "X-API-Key": "app_test_other"}, 403},
		{"metadata", "GET", pub + "/.well-known/oauth-authorization-server", "", "", nil, 200},
		{"openid-configuration", "GET", pub + "/.well-known/openid-configuration", "", "", nil, 200},
		{"JWKS", "GET", pub + "/.well-known/jwks.json", "", "", nil, 200},
		{"public healthz", "GET", pub + "/healthz", "", "", nil, 200},
		{"public readyz", "GET", pub + "/readyz", "", "", nil, 200},
		{"public 404", "GET", pub + "/nope", "", "", nil, 404},
		{"public 405", "GET", pub + "/oauth2/token", "", "", nil, 405},
		{"public body too large", "POST", pub + "/oauth2/token", form, strings.Repeat("a", 1<<20), nil, 400},
		{"admin list apps", "GET", adm + "/admin/v1/apps", "", "", map[string]string{"Authorization": admin}, 200},
		{"admin create app", "POST", adm + "/admin/v1/apps", "application/json", `{"name":"n"}`, map[string]string{"Authorization": admin}, 201},
		{"admin bad JSON", "POST", adm + "/admin/v1/apps", "application/json", `{`, map[string]string{"Authorization": admin}, 400},
		{"admin unauthenticated", "GET", adm + "/admin/v1/apps", "", "", nil, 401},
		{"admin 404", "GET", adm + "/admin/v1/apps/app_test_nope", "", "", map[string]string{"Authorization": admin}, 404},
		{"admin 405", "DELETE", adm + "/admin/v1/apps", "", "", map[string]string{"Authorization": admin}, 405},
		{"admin healthz", "GET", adm + "/healthz", "", "", nil, 200},
		{"admin unknown path", "GET", adm + "/nope", "", "", nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, tc.url, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode != tc.status || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				t.Fatalf("%d %q, want %d and JSON", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Fatalf("X-Content-Type-Options %q", got)
			}
		})
	}
}
