package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeJSON holds decodeJSON to the admin API's OpenAPI document:
// members are matched exactly as spelt, and every refusal says where the
// body went wrong without echoing its values.
func TestDecodeJSON(t *testing.T) {
	type request struct {
		Name      string    `json:"name"`
		Audiences []string  `json:"audiences"`
		Lifetime  *string   `json:"access_token_lifetime"`
		Immediate bool      `json:"immediate"`
		Scopes    *[]string `json:"scopes"`
	}
	tests := []struct {
		name    string
		ctype   string
		body    string
		status  int
		message string // a part of the error message; "" when accepted
		want    request
	}{
		{name: "exact names", body: `{"name":"billing","audiences":["https://api.example.com"]}`, status: 200,
			want: request{Name: "billing", Audiences: []string{"https://api.example.com"}}},
		{name: "charset parameter", ctype: "application/json; charset=utf-8", body: `{"immediate":true}`, status: 200,
			want: request{Immediate: true}},
		{name: "a member name in another case", body: `{"name":"a","audiencEs":["x"]}`, status: 400, message: `unknown field "audiencEs"`},
		{name: "a capitalised name", body: `{"Name":"a"}`, status: 400, message: `unknown field "Name"`},
		{name: "an unknown member", body: `{"name":"a","_id":"app_live_x"}`, status: 400, message: `unknown field "_id"`},
		{name: "a member twice", body: `{"name":"a","name":"b"}`, status: 400, message: `field "name" appears twice`},
		{name: "a string for an array", body: `{"scopes":"read"}`, status: 400, message: `field "/scopes" must be an array of strings`},
		{name: "an object for a string", body: `{"name":{"$ne":""}}`, status: 400, message: `field "/name" must be a string`},
		{name: "a number for a bool", body: `{"immediate":1}`, status: 400, message: `field "/immediate" must be true or false`},
		{name: "null for a string", body: `{"name":null}`, status: 400, message: `field "/name" may not be null`},
		{name: "null for a boolean", body: `{"immediate":null}`, status: 400, message: `field "/immediate" may not be null`},
		{name: "null for an optional string", body: `{"access_token_lifetime":null}`, status: 400, message: `field "/access_token_lifetime" may not be null`},
		{name: "null in a list", body: `{"audiences":[null]}`, status: 400, message: `field "/audiences/0" may not be null`},
		{name: "null for a list", body: `{"name":"a","scopes":null,"audiences":null}`, status: 200, want: request{Name: "a"}},
		{name: "null body", body: ` null`, status: 400, message: "not a JSON object"},
		{name: "an array body", body: `[{"name":"a"}]`, status: 400, message: "not a JSON object"},
		{name: "two objects", body: `{"name":"a"}{"name":"b"}`, status: 400, message: "syntax error at byte"},
		{name: "truncated", body: `{"name":"x"`, status: 400, message: "truncated JSON"},
		{name: "empty", body: ``, status: 400, message: "truncated JSON"},
		{name: "invalid UTF-8", body: "{\"name\":\"\xff\"}", status: 400, message: "syntax error at byte"},
		{name: "a long unknown name is cut", body: `{"` + strings.Repeat("n", 5000) + `":1}`, status: 400, message: `unknown field "` + strings.Repeat("n", 64) + `…"`},
		{name: "a form", ctype: "application/x-www-form-urlencoded", body: `name=a`, status: 415, message: "must be application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			req := httptest.NewRequest(http.MethodPost, "/admin/v1/apps", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", ctype)
			rec := httptest.NewRecorder()
			var got request
			ok := decodeJSON(rec, req, &got)
			if ok != (tt.status == 200) {
				t.Fatalf("decodeJSON = %v, want %v (answer %d %s)", ok, tt.status == 200, rec.Code, rec.Body)
			}
			if ok {
				gotJSON, _ := json.Marshal(got)
				wantJSON, _ := json.Marshal(tt.want)
				if string(gotJSON) != string(wantJSON) {
					t.Fatalf("decoded %s, want %s", gotJSON, wantJSON)
				}
				return
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var answer adminError
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
				t.Fatalf("answer %q is not the admin error shape: %v", rec.Body, err)
			}
			if !strings.Contains(answer.Error.Message, tt.message) {
				t.Fatalf("message %q does not say %q", answer.Error.Message, tt.message)
			}
			if len(answer.Error.Message) > 200 {
				t.Fatalf("message of %d bytes grows with the input", len(answer.Error.Message))
			}
		})
	}
}
