package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// After a suite of requests that put secrets, tokens and passwords
// everywhere a client can put them (headers, form, query string, path),
// nothing the server logged contains any of them, while every request was
// logged with its request id.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) { c.Limits.ClientFailureBurst = 2 })
	app := in.CreateApp(t, map[string]any{"name": "a", "scopes": []string{"read"}})
	rs := in.CreateApp(t, map[string]any{"name": "rs"})
	t1 := token(t, in, app)
	status, body, _ := postForm(t, in.PublicURL+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
	}, "")
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	t2 := body["access_token"].(string)
	wrongSecret := "sk_live_" + strings.Repeat("W", 49)
	password := "hunter2-correct-horse-battery"
	wrongAdminKey := "ak_" + strings.Repeat("K", 49)
	secrets := map[string]string{
		"client secret": app.ClientSecret, "other client secret": rs.ClientSecret,
		"access token 1": t1, "access token 2": t2, "signature of token 1": t1[strings.LastIndexByte(t1, '.')+1:],
		"wrong secret": wrongSecret, "password": password,
		"admin key": in.AdminKey, "wrong admin key": wrongAdminKey,
	}

	tokenURL := in.PublicURL + "/oauth2/token"
	requests := []struct {
		method, url, contentType, body, authorization string
	}{
		{"POST", tokenURL, "application/x-www-form-urlencoded", "grant_type=client_credentials", basic(app.ClientID, wrongSecret)},
		{"POST", tokenURL, "application/x-www-form-urlencoded", "grant_type=client_credentials", basic(app.ClientID, wrongSecret)},
		{"POST", tokenURL, "application/x-www-form-urlencoded", "grant_type=client_credentials", basic(app.ClientID, wrongSecret)}, // 429
		{"POST", tokenURL, "application/x-www-form-urlencoded", "grant_type=password&username=alice&password=" + password, basic(rs.ClientID, rs.ClientSecret)},
		{"POST", tokenURL + "?client_secret=" + url.QueryEscape(app.ClientSecret) + "&password=" + password, "application/x-www-form-urlencoded", "grant_type=client_credentials", ""},
		{"POST", tokenURL, "application/x-www-form-urlencoded", "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + t1, ""},
		{"POST", tokenURL, "application/json", `{"client_secret":"` + app.ClientSecret + `"}`, "Bearer " + t1},
		{"POST", in.PublicURL + "/oauth2/introspect", "application/x-www-form-urlencoded", "token=" + t1, basic(rs.ClientID, rs.ClientSecret)},
		{"POST", in.PublicURL + "/oauth2/introspect", "application/x-www-form-urlencoded", "token=" + t2, "Bearer " + t1},
		{"POST", in.PublicURL + "/oauth2/revoke", "application/x-www-form-urlencoded", "token=" + t2, basic(app.ClientID, app.ClientSecret)},
		{"GET", in.PublicURL + "/" + app.ClientSecret, "", "", ""},
		{"GET", in.PublicURL + "/oauth2/token/" + t1 + "/x", "", "", ""},
		{"GET", in.PublicURL + "/.well-known/jwks.json?access_token=" + t1, "", "", "Bearer " + t1},
		{"GET", in.AdminURL + "/admin/v1/apps", "", "", "Bearer " + wrongAdminKey},
		{"GET", in.AdminURL + "/admin/v1/apps/" + in.AdminKey, "", "", "Bearer " + in.AdminKey},
		{"POST", in.AdminURL + "/admin/v1/apps", "application/json", `{"name":"` + password + `","secret":"` + app.ClientSecret + `"}`, "Bearer " + in.AdminKey},
		{"POST", in.AdminURL + "/admin/v1/apps", "application/json", `{"name":"b"}`, "Bearer " + in.AdminKey},
	}
	for i, r := range requests {
		req, err := http.NewRequest(r.method, r.url, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		if r.authorization != "" {
			req.Header.Set("Authorization", r.authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
	}

	logs := in.Logs.String()
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the %s", name)
		}
	}
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "msg=request ") {
			n++
			if !strings.Contains(line, "request_id=") || strings.Contains(line, "request_id= ") {
				t.Errorf("access log line without a request id: %s", line)
			}
		}
	}
	if n < len(requests) {
		t.Fatalf("%d access log lines for at least %d requests", n, len(requests))
	}
}
