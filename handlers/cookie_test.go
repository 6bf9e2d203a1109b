package handlers

import (
	"testing"
)

func TestCookieSecure(t *testing.T) {
	for issuer, want := range map[string]bool{
		"https://auth.example.com": true,
		"http://localhost:8080":    false,
		"http://127.0.0.1:9000":    false,
		"http://[::1]:9000":        false,
		"http://auth.example.com":  true,
		"http://192.168.1.5":       true,
	} {
		if got := CookieSecure(issuer); got != want {
			t.Errorf("%s: %v, want %v", issuer, got, want)
		}
	}
	if UserTokenCookie("https://a.example") != "__Host-authserver_token" || UserTokenCookie("http://localhost") != "authserver_token" {
		t.Error("cookie names")
	}
}
