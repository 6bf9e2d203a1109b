package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/authserver/authserver/verifier/dpop"
)

// A token endpoint binds the token it issues to the proof's key; a second
// use of the same proof is refused. The clock is set to the iat of RFC
// 9449's example proof.
func Example_tokenEndpoint() {
	now := func() time.Time { return time.Unix(1562262616, 0) }
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(0, now), Now: now})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("POST", "/token", nil)
	r.Header.Set("DPoP", rfcTokenProof)
	req := dpop.Request{
		Proofs: r.Header.Values("DPoP"),
		Method: r.Method,
		// The public base URL from configuration, not r.Host.
		URI: "https://server.example.com" + r.URL.Path,
	}
	for range 2 {
		proof, err := v.Verify(r.Context(), req)
		var refused *dpop.Error
		switch {
		case errors.As(err, &refused):
			// 400 {"error": refused.Code, "error_description": ...}, and
			// with use_dpop_nonce a DPoP-Nonce header of refused.Nonce.
			fmt.Printf("400 %s: %s\n", refused.Code, refused.Description)
		case err != nil:
			fmt.Println("503") // the replay cache failed
		default:
			fmt.Printf(`token_type DPoP, cnf {"jkt":%q}`+"\n", proof.JKT)
		}
	}
	// Output:
	// token_type DPoP, cnf {"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	// 400 invalid_dpop_proof: proof already used
}

// A resource accepts "Authorization: DPoP <token>" with a proof that
// carries the token's hash, from the key the token is bound to. The token
// itself is verified first (not shown); its cnf.jkt is the RFC's.
func Example_resource() {
	now := func() time.Time { return time.Unix(1562262618, 0) }
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(0, now), Now: now, Algorithms: []string{"ES256", "EdDSA"}})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/protectedresource", nil)
	r.Header.Set("Authorization", "DPoP "+rfcAccessToken)
	r.Header.Set("DPoP", rfcResourceProof)
	cnfJKT := "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

	proof, err := v.Verify(r.Context(), dpop.Request{
		Proofs:      r.Header.Values("DPoP"),
		Method:      r.Method,
		URI:         "https://resource.example.org" + r.URL.Path,
		AccessToken: rfcAccessToken,
	})
	var refused *dpop.Error
	switch {
	case errors.As(err, &refused):
		fmt.Println("401 WWW-Authenticate:", dpop.Challenge(refused.Code, refused.Description, v.Algorithms()))
	case err != nil:
		fmt.Println("503")
	case !dpop.ConfirmationMatches(cnfJKT, proof.JKT):
		fmt.Println("401 WWW-Authenticate:", dpop.Challenge("invalid_token", "Invalid DPoP key binding", v.Algorithms()))
	default:
		fmt.Println("200")
	}
	// A request with no credentials at all gets the bare challenge.
	fmt.Println("401 WWW-Authenticate:", dpop.Challenge("", "", v.Algorithms()))
	// Output:
	// 200
	// 401 WWW-Authenticate: DPoP algs="ES256 EdDSA"
}

// A client makes a fresh proof for each request with its own key: at the
// token endpoint without an access token, at a resource with the token it
// sends as "Authorization: DPoP <token>" (the proof then carries ath).
func ExampleNewProof() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	token := "eyJ...the access token"
	proof, err := dpop.NewProof(key, dpop.ProofParams{
		Method:      "GET",
		URI:         "https://resource.example.org/protectedresource",
		AccessToken: token,
		// Nonce: the last DPoP-Nonce the server sent, if any.
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "https://resource.example.org/protectedresource", nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", proof)

	// What the resource finds: the proof is from the client's key.
	v, err := dpop.New(dpop.Config{Replay: dpop.NewMemoryReplayCache(0, nil)})
	if err != nil {
		panic(err)
	}
	got, err := v.Verify(r.Context(), dpop.Request{
		Proofs: r.Header.Values("DPoP"), Method: r.Method,
		URI: "https://resource.example.org/protectedresource", AccessToken: token,
	})
	jkt, _ := dpop.Thumbprint(&key.PublicKey)
	fmt.Println(err == nil, got.Algorithm, got.JKT == jkt)
	// Output:
	// true ES256 true
}
