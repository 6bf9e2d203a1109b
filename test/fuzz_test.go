package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// fuzzServer starts one server per fuzz worker (testserver keeps the
// limiter out of the way: the fuzzer fails authentication all the time
// from one address).
func fuzzServer(f *testing.F) *testserver.Instance {
	return testserver.Start(f, func(c *server.Config) {
		c.Cache.UsageFlushInterval = time.Hour
		c.Log.Level = "error"
	})
}

// tokenErrors are the only error codes the token endpoint may answer
// (RFC 6749 §5.2, RFC 8707 §2).
var tokenErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "invalid_target": true,
}

// FuzzTokenEndpoint sends arbitrary form bodies (client assertions
// included) and Authorization headers to the token endpoint. In the
// inputs, {id}, {secret} and {basic} stand for a real client's id, secret
// and Basic header, so that the fuzzer explores past authentication.
// Whatever the input: no 5xx, an RFC 6749 §5.2 error from the allowed set
// (401 with WWW-Authenticate), a token only for a request that carried the
// real secret, and a body that does not decode as a form refused with
// invalid_request whatever else it holds.
func FuzzTokenEndpoint(f *testing.F) {
	in := fuzzServer(f)
	app := in.CreateApp(f, map[string]any{"name": "fuzz", "scopes": []string{"read", "write"}, "audiences": []string{api}})
	subst := strings.NewReplacer("{id}", app.ClientID, "{secret}", app.ClientSecret, "{basic}", basic(app.ClientID, app.ClientSecret))
	for _, seed := range [][2]string{
		{"grant_type=client_credentials", "{basic}"},
		{"grant_type=client_credentials&client_id={id}&client_secret={secret}", ""},
		{"grant_type=client_credentials&scope=read+write&audience=" + api, "{basic}"},
		{"grant_type=client_credentials&resource=" + api, "{basic}"},
		{"grant_type=client_credentials&client_id[$ne]=x", ""},
		{"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ7aWR9In0.x", ""},
		{"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c", "{basic}"},
		{"grant_type=client_credentials&scope=%ff", "Basic e2lkfTp7c2VjcmV0fQ=="},
		{"grant_type=client_credentials&scope=read%zz", "{basic}"},
	} {
		f.Add(seed[0], seed[1])
	}
	tokenURL := in.PublicURL + "/oauth2/token"
	f.Fuzz(func(t *testing.T, body, authorization string) {
		body, authorization = subst.Replace(body), subst.Replace(authorization)
		if !validHeaderValue(authorization) {
			return // net/http would refuse to send it
		}
		req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%d, body not JSON: %q", resp.StatusCode, raw)
		}
		if _, err := url.ParseQuery(body); err != nil && (resp.StatusCode != http.StatusBadRequest || out["error"] != "invalid_request") {
			t.Fatalf("a body that does not decode (%v): %d %v", err, resp.StatusCode, out)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if !strings.Contains(body+authorization, app.ClientSecret) && !strings.Contains(authorization, basic(app.ClientID, app.ClientSecret)[len("Basic "):]) {
				t.Fatalf("a token without the secret: body %q authorization %q", body, authorization)
			}
			if tok, _ := out["access_token"].(string); tok == "" || out["token_type"] != "Bearer" {
				t.Fatalf("200 without a token: %v", out)
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			code, _ := out["error"].(string)
			if !tokenErrors[code] {
				t.Fatalf("%d with error %q", resp.StatusCode, code)
			}
			if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
	})
}

// validHeaderValue reports whether net/http accepts v as a header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzAdminCreateApp sends arbitrary bodies and content types to POST
// /admin/v1/apps. Whatever the input: no 5xx; an error in the admin shape
// with a 400, 413 or 415; an app created only from a valid JSON object,
// named as asked, with a well-formed secret shown once; and an exchange
// within the admin API's contract (a body the document refuses is
// refused, every answer is documented).
func FuzzAdminCreateApp(f *testing.F) {
	in := fuzzServer(f)
	for _, seed := range [][2]string{
		{`{"name":"billing","scopes":["read"],"audiences":["https://api.example.com"]}`, "application/json"},
		{`{"name":"t","environment":"test","origins":["https://app.example.com"],"access_token_lifetime":"15m"}`, "application/json; charset=utf-8"},
		{`{"name":{"$ne":""}}`, "application/json"},
		{`{"name":"x","scopes":"read"}`, "application/json"},
		{`{"name":"x"`, "application/json"},
		{`{"name":"a"}{"name":"b"}`, "application/json"},
		{`{"name":"a","_id":"app_live_x"}`, "application/json"},
		{`name=a`, "application/x-www-form-urlencoded"},
		{`{"name":"\u202e"}`, "text/plain"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		if !validHeaderValue(contentType) {
			return
		}
		req, err := http.NewRequest(http.MethodPost, in.AdminURL+"/admin/v1/apps", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+in.AdminKey)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if v := in.Contract.TakeViolations(); len(v) > 0 {
			t.Fatalf("the exchange broke the admin API's contract: %s", v[0])
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			var in struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal([]byte(body), &in); err != nil {
				t.Fatalf("created from a body that is not a JSON object: %q", body)
			}
			var out struct {
				Name         string `json:"name"`
				ClientSecret string `json:"client_secret"`
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("201 body: %q", raw)
			}
			if out.Name != strings.TrimSpace(in.Name) || !utf8.ValidString(out.Name) {
				t.Fatalf("asked for name %q, got %q", in.Name, out.Name)
			}
			if !strings.HasPrefix(out.ClientSecret, "sk_live_") && !strings.HasPrefix(out.ClientSecret, "sk_test_") {
				t.Fatalf("secret %q", out.ClientSecret)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d not in the admin error shape: %q", resp.StatusCode, raw)
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
	})
}
