package credential

import (
	"strings"
	"testing"
)

func TestNewSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, env := range []string{EnvLive, EnvTest} {
		for range 200 {
			s := NewSecret(env)
			prefix := "sk_" + env + "_"
			if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+secretBodyLen+checksumLen {
				t.Fatalf("secret %q has the wrong shape", s)
			}
			if !WellFormed(s, prefix) {
				t.Fatalf("fresh secret not well-formed")
			}
			if seen[s] {
				t.Fatal("duplicate secret")
			}
			seen[s] = true
		}
	}
}

func TestWellFormedRejects(t *testing.T) {
	good := NewSecret(EnvLive)
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	tests := []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"prefix only", "sk_live_"},
		{"other environment", "sk_test_" + good[len("sk_live_"):]},
		{"body changed", flip(good, 10)},
		{"checksum changed", flip(good, len(good)-1)},
		{"truncated", good[:len(good)-1]},
		{"extended", good + "0"},
		{"non-base62 byte", good[:12] + "-" + good[13:]},
		{"account key", NewAccountKey()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if WellFormed(tc.s, "sk_live_") {
				t.Fatalf("%q accepted", tc.s)
			}
		})
	}
}

func TestMaskAndIDs(t *testing.T) {
	s := NewSecret(EnvTest)
	prefix, last4 := MaskParts(s)
	if prefix != "sk_test_" || last4 != s[len(s)-4:] {
		t.Fatalf("maskParts(%q) = %q, %q", s, prefix, last4)
	}
	if m := Mask(prefix, last4); strings.Contains(m, s[len(prefix):len(s)-4]) {
		t.Fatalf("mask %q shows the body", m)
	}
	id := NewAppID(EnvLive)
	if EnvOf(id) != EnvLive || len(id) != len("app_live_")+22 {
		t.Fatalf("app id %q", id)
	}
	if EnvOf(NewAppID(EnvTest)) != EnvTest || EnvOf("app_prod_x") != "" {
		t.Fatal("envOfAppID")
	}
}

func TestBase62(t *testing.T) {
	tests := []struct {
		in    []byte
		width int
		want  string
	}{
		{[]byte{0}, 3, "000"},
		{[]byte{61}, 1, "z"},
		{[]byte{62}, 2, "10"},
		{[]byte{0xff, 0xff, 0xff, 0xff}, 6, "4gfFC3"},
	}
	for _, tc := range tests {
		if got := base62(tc.in, tc.width); got != tc.want {
			t.Errorf("base62(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
