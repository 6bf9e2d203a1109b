package dpop_test

import (
	"testing"

	"github.com/authserver/authserver/verifier/dpop"
)

func TestChallenge(t *testing.T) {
	t.Parallel()
	algs := []string{"ES256", "PS256"}
	for _, tc := range []struct {
		name, code, desc string
		algs             []string
		want             string
	}{
		{"no credentials (RFC 9449 §7.1)", "", "", algs, `DPoP algs="ES256 PS256"`},
		{"invalid proof", dpop.CodeInvalidProof, "htu does not match the request URI", algs,
			`DPoP error="invalid_dpop_proof", error_description="htu does not match the request URI", algs="ES256 PS256"`},
		{"key binding (RFC 9449 §7.1)", "invalid_token", "Invalid DPoP key binding", []string{"ES256"},
			`DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"`},
		{"nonce, no description", dpop.CodeUseNonce, "", nil, `DPoP error="use_dpop_nonce"`},
		{"quotes, backslash, CR LF and non-ASCII dropped", dpop.CodeInvalidProof, "a\"b\\c\r\nd\u00e9", nil,
			`DPoP error="invalid_dpop_proof", error_description="abcd"`},
		{"bare", "", "", nil, "DPoP"},
	} {
		if got := dpop.Challenge(tc.code, tc.desc, tc.algs); got != tc.want {
			t.Errorf("%s: Challenge =\n  %s\nwant\n  %s", tc.name, got, tc.want)
		}
	}
}
