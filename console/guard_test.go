package console

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckSameOrigin(t *testing.T) {
	const host = "127.0.0.1:8081"
	cases := []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"Sec-Fetch-Site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"Sec-Fetch-Site same-origin with Origin null (no-referrer policy)", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}, true},
		{"Sec-Fetch-Site same-origin and this Origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + host}, true},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"Sec-Fetch-Site none (typed URL)", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"Sec-Fetch-Site same-origin but another Origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, false},
		{"this Origin", map[string]string{"Origin": "http://" + host}, true},
		{"this Origin over https (TLS proxy)", map[string]string{"Origin": "https://" + host}, true},
		{"another port", map[string]string{"Origin": "http://127.0.0.1:9999"}, false},
		{"another scheme", map[string]string{"Origin": "ftp://" + host}, false},
		{"Origin null alone", map[string]string{"Origin": "null"}, false},
		{"this Referer", map[string]string{"Referer": "http://" + host + "/console/apps"}, true},
		{"another Referer", map[string]string{"Referer": "http://evil.example/console/apps"}, false},
		{"Referer with our host in its path", map[string]string{"Referer": "http://evil.example/" + host}, false},
		{"nothing", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://"+host+"/console/apps", strings.NewReader(""))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if err := checkSameOrigin(r); (err == nil) != tc.ok {
				t.Fatalf("checkSameOrigin = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Sign-in returns to the console page asked for, and never leaves the
// console (no open redirect).
func TestNextPage(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"", "/console/apps"},
		{"/console/keys", "/console/keys"},
		{"/console/audit?app=app_live_x&action=secret.delete", "/console/audit?app=app_live_x&action=secret.delete"},
		{"/console/signin?next=/console/keys", "/console/apps"},
		{"//evil.example/console/", "/console/apps"},
		{"https://evil.example/console/", "/console/apps"},
		{"/console/\\evil.example", "/console/apps"},
		{"/console/x\r\nSet-Cookie: a=b", "/console/apps"},
		{"/admin/v1/apps", "/console/apps"},
		{"/console", "/console/apps"},
	} {
		if got := nextPage(tc.next); got != tc.want {
			t.Errorf("nextPage(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}
