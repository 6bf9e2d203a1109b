package test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver/authserver/authserver/kek"
	"github.com/authserver/authserver/authserver/signingkeys"
	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/storage"
	"github.com/authserver/authserver/test/testserver"
)

// fastKeys is a key schedule for accelerated-clock tests: a 1 min JWKS
// max-age, keys published 3 min ahead, rotating every 10 min, retired keys
// kept for the shortest retention allowed. Tokens live 1 h (the default).
func fastKeys(c *server.Config) {
	c.Keys.ReloadInterval = 50 * time.Millisecond
	c.Keys.JWKSMaxAge = time.Minute
	c.Keys.PublishAhead = 3 * time.Minute
	c.Keys.RotationPeriod = 10 * time.Minute
	c.Keys.Retention = signingkeys.MaxTokenLifetime + c.Keys.ReloadInterval + signingkeys.ClockSkewLeeway
	// The client cache measures its staleness on the same clock, which
	// here jumps minutes while the cache refreshes every 200 ms of real
	// time: without this, it would think the database had been
	// unreachable for minutes.
	c.Cache.MaxStaleness = 1000 * time.Hour
}

// keyListing reads GET /admin/v1/signing-keys.
func keyListing(t testing.TB, in *testserver.Instance) signingkeys.Listing {
	t.Helper()
	var l signingkeys.Listing
	if status := in.Admin(t, "", http.MethodGet, "/admin/v1/signing-keys", nil, &l); status != http.StatusOK {
		t.Fatalf("list signing keys: status %d", status)
	}
	return l
}

// checkInvariants asserts issue 3's item 1 on a listing: exactly one
// active key, at most one next, at most one inactive, and a JWKS that is
// exactly the published keys.
func checkInvariants(t testing.TB, l signingkeys.Listing, in *testserver.Instance) {
	t.Helper()
	count := map[string]int{}
	published := map[string]bool{}
	for _, k := range l.Items {
		count[k.State]++
		if k.Published {
			published[k.KID] = true
		}
	}
	if count["active"] != 1 || count["next"] > 1 || count["inactive"] > 1 {
		t.Fatalf("key-set invariants broken: %v", count)
	}
	if in == nil {
		return
	}
	jwks := fetchJWKS(t, in.PublicURL)
	if len(jwks.Keys) == 0 {
		t.Fatal("the JWKS is empty")
	}
	inJWKS := map[string]bool{}
	for _, k := range jwks.Keys {
		inJWKS[k.KeyID] = true
	}
	if !reflect.DeepEqual(inJWKS, published) {
		t.Fatalf("the JWKS %v is not the published keys %v", inJWKS, published)
	}
}

// tokenSource issues client-credentials tokens from one instance.
func tokenSource(in *testserver.Instance, app testserver.App) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: in.PublicURL + "/oauth2/token"}
}

type issued struct {
	token string
	kid   string
	exp   time.Time
}

func issue(t testing.TB, cc *clientcredentials.Config, clock *testserver.Clock) issued {
	t.Helper()
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	// Only the header and exp, unverified: verification is the verifiers' job.
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	var c jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil || c.Expiry == nil {
		t.Fatalf("token claims: %v", err)
	}
	return issued{token: tok.AccessToken, kid: parsed.Headers[0].KeyID, exp: c.Expiry.Time()}
}

// Across at least three automatic rotations, with tokens issued at every
// step, a verifier that caches the JWKS for its max-age (on the same
// accelerated clock) verifies every unexpired token, never meets an
// unknown kid, and retired keys leave the JWKS once every token they
// signed has expired (issue 3, items 2, 3 and 9).
func TestAutomaticRotationWithCachingVerifier(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, fastKeys)
	clock := in.Clock
	app := in.CreateApp(t, map[string]any{"name": "rot", "scopes": []string{"read"}, "audiences": []string{api}})
	cc := tokenSource(in, app)
	verifier := newCachingVerifier(in.PublicURL, in.PublicURL, api, clock.Now)
	firstKid, _ := in.Server.Keys.ActiveKey()

	var tokens []issued
	kids := map[string]bool{}
	verifications, failures := 0, 0
	step := func(d time.Duration) {
		clock.Advance(d)
		settle(t, clock, in)
		tok := issue(t, cc, clock)
		tokens = append(tokens, tok)
		kids[tok.kid] = true
		live := tokens[:0]
		for _, tk := range tokens {
			if !clock.Now().Before(tk.exp) {
				continue // expired: any verifier rejects it, rightly
			}
			live = append(live, tk)
			verifications++
			if _, err := verifier.Verify(tk.token); err != nil {
				failures++
				t.Errorf("at +%v: token signed by %s at %v: %v", clock.Now().Sub(tokens[0].exp.Add(-time.Hour)), tk.kid, tk.exp.Add(-time.Hour), err)
			}
		}
		tokens = live
	}
	// Three rotations and a bit, in 20 s steps.
	for range 3*10*3 + 12 {
		step(20 * time.Second)
	}
	if len(kids) < 4 {
		t.Fatalf("tokens were signed by %d keys, want at least 4 (three rotations)", len(kids))
	}
	// Then a day and more in 1 h steps: retired keys must leave the JWKS
	// only after every token they signed expired.
	for range 27 {
		step(time.Hour)
	}
	if failures != 0 {
		t.Fatalf("%d of %d verifications failed", failures, verifications)
	}
	if verifier.unknownKid != 0 {
		t.Fatalf("the verifier met %d unknown kids: a next key signed before it was in every cache", verifier.unknownKid)
	}
	t.Logf("%d verifications of tokens from %d keys, %d JWKS fetches (%d not modified), 0 failures",
		verifications, len(kids), verifier.fetches, verifier.notModified)
	l := keyListing(t, in)
	checkInvariants(t, l, in)
	for _, k := range l.Items {
		if k.KID == firstKid {
			t.Fatalf("the first key is still in the key set %+v long after its retention", k)
		}
	}
	// Every transition was audited, by the scheduler, without key material.
	ev, err := in.Server.Audit.List(context.Background(), storage.AuditFilter{Actor: "scheduler", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range ev {
		seen[e.Action]++
		for k, v := range e.Detail {
			if strings.Contains(strings.ToLower(k), "private") || len(v) > 64 {
				t.Fatalf("audit detail %s=%q looks like key material", k, v)
			}
		}
	}
	if seen[signingkeys.ActionKeyActivate] < 3 || seen[signingkeys.ActionKeyPublish] < 3 || seen[signingkeys.ActionKeyRetire] < 3 || seen[signingkeys.ActionKeyRemove] < 1 {
		t.Fatalf("scheduler audit events %v", seen)
	}
}

// Changing tokens.algorithm rolls over to a key of the new algorithm with
// the same publish-ahead overlap, never a hard switch (issue 3, item 6).
func TestAlgorithmChangeRollsOver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := testserver.NewClock()
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	first := testserver.StartWith(t, testserver.Config(dir), clock, fastKeys, issuer, func(c *server.Config) {
		c.Keys.RotationPeriod = 0 // only the algorithm change rolls keys here
	})
	app := first.CreateApp(t, map[string]any{"name": "alg", "scopes": []string{"read"}, "audiences": []string{api}})
	before := issue(t, tokenSource(first, app), clock)
	verifier := newCachingVerifier(first.PublicURL, "http://issuer.test", api, clock.Now)
	if _, err := verifier.Verify(before.token); err != nil {
		t.Fatal(err)
	}
	first.Stop(t)

	second := testserver.StartWith(t, testserver.Config(dir), clock, fastKeys, issuer, func(c *server.Config) {
		c.Keys.RotationPeriod = 0
		c.Tokens.Algorithm = "ES256"
	})
	verifier.jwksURL = second.PublicURL + "/.well-known/jwks.json"
	cc := tokenSource(second, app)
	l := keyListing(t, second)
	var next signingkeys.KeyView
	for _, k := range l.Items {
		if k.State == "next" {
			next = k
		}
	}
	if next.Algorithm != "ES256" || next.ActivateAt == nil || next.ActivateAt.Sub(*next.PublishedAt) != 3*time.Minute {
		t.Fatalf("after the algorithm change the next key is %+v, want ES256 signing 3m after publication", next)
	}
	algs := map[string]bool{}
	for range 15 { // 5 min in 20 s steps
		clock.Advance(20 * time.Second)
		settle(t, clock, second)
		tok := issue(t, cc, clock)
		_, hdr, err := verifyToken(tok.token, fetchJWKS(t, second.PublicURL), "http://issuer.test", api, clock.Now())
		if err != nil {
			t.Fatalf("fresh JWKS: %v", err)
		}
		algs[hdr.Algorithm] = true
		if hdr.Algorithm == "ES256" && clock.Now().Before(*next.ActivateAt) {
			t.Fatalf("an ES256 token at %v, before the next key's activation at %v", clock.Now(), next.ActivateAt)
		}
		for _, tk := range []issued{before, tok} {
			if _, err := verifier.Verify(tk.token); err != nil {
				t.Fatalf("caching verifier: %v", err)
			}
		}
	}
	if !algs["RS256"] || !algs["ES256"] {
		t.Fatalf("token algorithms over the change: %v, want RS256 then ES256", algs)
	}
	if verifier.unknownKid != 0 {
		t.Fatalf("the verifier met %d unknown kids", verifier.unknownKid)
	}
	checkInvariants(t, keyListing(t, second), second)
}

// adminError is the admin API's error body.
type adminError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// An immediate rotation followed by a discard pulls a compromised key: a
// caching verifier follows the new key through its unknown-kid refetch,
// the discarded kid leaves the JWKS at once and its tokens fail once the
// verifier refreshes; reactivate and delete follow the seed's rules, and
// every forbidden transition is refused with the store unchanged (issue 3,
// items 1 and 5).
func TestDiscardReactivateDelete(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, fastKeys, func(c *server.Config) { c.Keys.RotationPeriod = 0 })
	clock := in.Clock
	app := in.CreateApp(t, map[string]any{"name": "d", "scopes": []string{"read"}, "audiences": []string{api}})
	cc := tokenSource(in, app)
	verifier := newCachingVerifier(in.PublicURL, in.PublicURL, api, clock.Now)
	oldTok := issue(t, cc, clock)
	if _, err := verifier.Verify(oldTok.token); err != nil {
		t.Fatal(err)
	}
	compromised := oldTok.kid

	var rot signingkeys.RotateResult
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/rotate", map[string]bool{"immediate": true}, &rot); status != http.StatusOK {
		t.Fatalf("rotate: status %d", status)
	}
	if rot.ActiveKID == compromised || rot.NextKID != "" {
		t.Fatalf("immediate rotation: %+v", rot)
	}
	newTok := issue(t, cc, clock)
	if newTok.kid != rot.ActiveKID {
		t.Fatalf("signed by %s right after an immediate rotation to %s", newTok.kid, rot.ActiveKID)
	}
	if _, err := verifier.Verify(newTok.token); err != nil || verifier.unknownKid != 1 {
		t.Fatalf("the new key's token: %v (unknown-kid refetches %d, want 1)", err, verifier.unknownKid)
	}
	if _, err := verifier.Verify(oldTok.token); err != nil {
		t.Fatalf("the retired key's token before the discard: %v", err)
	}

	var v signingkeys.KeyView
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/"+compromised+"/discard", nil, &v); status != http.StatusOK || v.State != "inactive" || v.Published {
		t.Fatalf("discard: %d %+v", status, v)
	}
	for _, k := range fetchJWKS(t, in.PublicURL).Keys {
		if k.KeyID == compromised {
			t.Fatal("the discarded kid is still in the JWKS")
		}
	}
	if _, _, ok := in.Server.Keys.VerificationKey(compromised); ok {
		t.Fatal("online checks still accept the discarded key")
	}
	// An offline verifier keeps its cache until max-age...
	if _, err := verifier.Verify(oldTok.token); err != nil {
		t.Fatalf("within max-age the cached key still verifies (offline semantics): %v", err)
	}
	// ...then refreshes and rejects the discarded key's tokens.
	clock.Advance(time.Minute)
	if _, err := verifier.Verify(oldTok.token); err == nil || !strings.Contains(err.Error(), "not in the JWKS") {
		t.Fatalf("a discarded key's token after the refresh: %v", err)
	}
	if _, err := verifier.Verify(newTok.token); err != nil {
		t.Fatal(err)
	}

	// A second retired key, for the rule of one inactive key.
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/rotate", map[string]bool{"immediate": true}, &rot); status != http.StatusOK {
		t.Fatalf("rotate: %d", status)
	}
	retired := newTok.kid
	active := rot.ActiveKID
	refused := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"discard the active key", http.MethodPost, "/signing-keys/" + active + "/discard", 409, "key_active"},
		{"a second inactive key", http.MethodPost, "/signing-keys/" + retired + "/discard", 409, "inactive_key_exists"},
		{"discard the inactive key again", http.MethodPost, "/signing-keys/" + compromised + "/discard", 409, "key_inactive"},
		{"delete the active key", http.MethodDelete, "/signing-keys/" + active + "?confirm=" + active, 409, "key_not_inactive"},
		{"delete a retired key", http.MethodDelete, "/signing-keys/" + retired + "?confirm=" + retired, 409, "key_not_inactive"},
		{"delete without confirmation", http.MethodDelete, "/signing-keys/" + compromised, 400, "confirmation_required"},
		{"delete confirming another kid", http.MethodDelete, "/signing-keys/" + compromised + "?confirm=" + retired, 400, "confirmation_required"},
		{"reactivate the active key", http.MethodPost, "/signing-keys/" + active + "/reactivate", 409, "key_not_inactive"},
		{"discard an unknown kid", http.MethodPost, "/signing-keys/nope/discard", 404, "key_not_found"},
		{"delete an unknown kid", http.MethodDelete, "/signing-keys/nope?confirm=nope", 404, "key_not_found"},
		{"rotate with a malformed body", http.MethodPost, "/signing-keys/rotate", 400, "invalid_json"},
	}
	before := in.DumpStore(t)
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.code == "invalid_json" {
				body = map[string]string{"immediate": "yes"}
			}
			var e adminError
			if status := in.Admin(t, "", tc.method, "/admin/v1"+tc.path, body, &e); status != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", status, e, tc.status, tc.code)
			}
		})
	}
	if after := in.DumpStore(t); !reflect.DeepEqual(before, after) {
		t.Fatalf("refused transitions changed the store:\nbefore %v\nafter  %v", before, after)
	}

	// Reactivate: the key is published again and its tokens verify again.
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/"+compromised+"/reactivate", nil, &v); status != http.StatusOK || v.State != "retired" {
		t.Fatalf("reactivate: %d %+v", status, v)
	}
	clock.Advance(time.Minute)
	if _, err := verifier.Verify(oldTok.token); err != nil {
		t.Fatalf("a reactivated key's token: %v", err)
	}
	// Discard and delete for good.
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/"+compromised+"/discard", nil, &v); status != http.StatusOK {
		t.Fatalf("discard again: %d", status)
	}
	if status := in.Admin(t, "", http.MethodDelete, "/admin/v1/signing-keys/"+compromised+"?confirm="+compromised, nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	var e adminError
	if status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/"+compromised+"/reactivate", nil, &e); status != http.StatusNotFound {
		t.Fatalf("reactivate a deleted key: %d %+v", status, e)
	}
	clock.Advance(time.Minute)
	if _, err := verifier.Verify(oldTok.token); err == nil {
		t.Fatal("a deleted key's token verifies")
	}
	l := keyListing(t, in)
	checkInvariants(t, l, in)
	for _, k := range l.Items {
		if k.KID == compromised {
			t.Fatal("the deleted key is still listed")
		}
	}
	// The operator's transitions are audited under the account key.
	ev, err := in.Server.Audit.List(context.Background(), storage.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for i := len(ev) - 1; i >= 0; i-- {
		if ev[i].Target == compromised && ev[i].Actor != "scheduler" && ev[i].Actor != "system" {
			trail = append(trail, ev[i].Action)
		}
	}
	// Events in the same millisecond of the test clock have no order.
	sort.Strings(trail)
	want := []string{"signing_key.delete", "signing_key.discard", "signing_key.discard", "signing_key.reactivate", "signing_key.retire"}
	if !reflect.DeepEqual(trail, want) {
		t.Fatalf("audit trail of %s: %v, want %v", compromised, trail, want)
	}
}

// The key listing never shows private material, sealed or not.
func TestKeyListingHasNoPrivateMaterial(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) { c.Tokens.Algorithm = "EdDSA" })
	var raw map[string]any
	if status := in.Admin(t, "", http.MethodGet, "/admin/v1/signing-keys", nil, &raw); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	body := fmt.Sprint(raw)
	for _, forbidden := range []string{"private", "ciphertext", "nonce", "\"d\"", "public_jwk"} {
		if strings.Contains(strings.ToLower(body), forbidden) {
			t.Fatalf("listing mentions %q: %s", forbidden, body)
		}
	}
	items := raw["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["alg"] != "EdDSA" || items[0].(map[string]any)["kek_id"] == "" {
		t.Fatalf("items %v", items)
	}
}

// pairIssuer is the issuer both instances of a pair share.
const pairIssuer = "http://pair.test"

// startPair starts two instances on one embedded FerretDB: the second
// connects to the first one's listener (mongodb.uri) with the same KEK,
// both on one clock.
func startPair(t *testing.T, opts ...testserver.Option) (first, second *testserver.Instance) {
	t.Helper()
	kek := kek.New()
	clock := testserver.NewClock()
	withKEK := func(c *server.Config) { c.KEK, c.Issuer = kek, pairIssuer }
	first = testserver.StartWith(t, testserver.Config(t.TempDir()), clock, append(opts, withKEK)...)
	second = testserver.StartWith(t, testserver.Config(t.TempDir()), clock, append(opts, withKEK, func(c *server.Config) {
		c.MongoDB.URI = first.Server.StoreURI()
	})...)
	second.AdminKey = first.AdminKey
	return first, second
}

// Two instances on one database: a rotation through one keeps every token
// from either verifying against either JWKS throughout, and the other
// signs with the new key within one reload pass (issue 3, item 4).
func TestTwoInstancesRotateTogether(t *testing.T) {
	t.Parallel()
	first, second := startPair(t, fastKeys, func(c *server.Config) {
		c.Keys.RotationPeriod = 0
		c.Keys.ReloadInterval = 200 * time.Millisecond
		c.Keys.PublishAhead = time.Minute + c.Keys.ReloadInterval
		c.Keys.Retention = 25 * time.Hour
	})
	clock := first.Clock
	app := first.CreateApp(t, map[string]any{"name": "pair", "scopes": []string{"read"}, "audiences": []string{api}})
	sources := []*clientcredentials.Config{tokenSource(first, app), tokenSource(second, app)}
	instances := []*testserver.Instance{first, second}
	oldKid, _ := first.Server.Keys.ActiveKey()
	if kid, _ := second.Server.Keys.ActiveKey(); kid != oldKid {
		t.Fatalf("the instances start with different keys %s and %s", oldKid, kid)
	}

	var rot signingkeys.RotateResult
	if status := first.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/rotate", nil, &rot); status != http.StatusOK || rot.NextKID == "" {
		t.Fatalf("rotate: %d %+v", status, rot)
	}
	var tokens []issued
	checkAll := func() {
		t.Helper()
		for _, src := range sources {
			tokens = append(tokens, issue(t, src, clock))
		}
		for _, in := range instances {
			set := fetchJWKS(t, in.PublicURL)
			for _, tk := range tokens {
				if _, _, err := verifyToken(tk.token, set, pairIssuer, api, clock.Now()); err != nil {
					t.Fatalf("a token signed by %s does not verify against %s's JWKS at +%v: %v", tk.kid, in.PublicURL, clock.Now().Sub(*rot.ActivateAt), err)
				}
			}
		}
	}
	// Before and through the activation, in 10 s steps.
	logged := false
	for !clock.Now().After(rot.ActivateAt.Add(30 * time.Second)) {
		checkAll()
		clock.Advance(10 * time.Second)
		start := time.Now()
		settle(t, clock, instances...)
		if !clock.Now().Before(*rot.ActivateAt) {
			// One reload pass after the activation time, both sign with
			// the new key, whichever instance promoted it.
			for i, in := range instances {
				if kid, _ := in.Server.Keys.ActiveKey(); kid != rot.NextKID {
					t.Fatalf("instance %d still signs with %s one pass after the activation", i, kid)
				}
			}
			if !logged {
				t.Logf("both instances sign with the new key %v after the clock passed its activation (reload interval %v)",
					time.Since(start).Round(time.Millisecond), first.Config.Keys.ReloadInterval)
				logged = true
			}
		}
	}
	checkAll()
	for _, src := range sources {
		if tk := issue(t, src, clock); tk.kid != rot.NextKID {
			t.Fatalf("signed by %s after the rotation", tk.kid)
		}
	}
	// A discard through the second leaves the first's JWKS after its
	// next reload.
	var v signingkeys.KeyView
	if status := second.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/"+oldKid+"/discard", nil, &v); status != http.StatusOK {
		t.Fatalf("discard: %d", status)
	}
	version := second.Server.Keys.Version()
	waitUntil(t, "the first instance to load the discard", func() bool { return first.Server.Keys.Version() >= version })
	for _, k := range fetchJWKS(t, first.PublicURL).Keys {
		if k.KeyID == oldKid {
			t.Fatal("the discarded key is still in the other instance's JWKS")
		}
	}
	checkInvariants(t, keyListing(t, first), first)
	checkInvariants(t, keyListing(t, second), second)
}

// Concurrent rotations (scheduled and immediate) from several goroutines
// through two instances, and concurrent discards of two keys, keep every
// invariant: one active key, at most one next and one inactive, a JWKS
// that is exactly the published keys, and both instances converge on the
// same set (issue 3, items 1, 4 and 9; run with -race).
func TestConcurrentRotationsKeepInvariants(t *testing.T) {
	t.Parallel()
	first, second := startPair(t, func(c *server.Config) {
		c.Tokens.Algorithm = "ES256" // fast key generation: the race is the point
		c.Keys.ReloadInterval = 50 * time.Millisecond
	})
	instances := []*testserver.Instance{first, second}
	const workers, rounds = 6, 4
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				in := instances[(w+r)%2]
				body := map[string]bool{"immediate": (w+r)%3 == 0}
				var e adminError
				status := in.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/rotate", body, &e)
				mu.Lock()
				outcomes[fmt.Sprintf("%d %s", status, e.Error.Code)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for o := range outcomes {
		if o != "200 " && o != "409 concurrent_update" {
			t.Fatalf("rotate outcomes %v", outcomes)
		}
	}
	if outcomes["200 "] == 0 {
		t.Fatalf("no rotation succeeded: %v", outcomes)
	}
	t.Logf("rotate outcomes: %v", outcomes)

	l := keyListing(t, first)
	checkInvariants(t, l, first)
	var retired []string
	for _, k := range l.Items {
		if k.State == "retired" {
			retired = append(retired, k.KID)
		}
	}
	if len(retired) < 2 {
		t.Fatalf("want at least two retired keys after the immediate rotations, have %d", len(retired))
	}
	// Two discards race from the two instances: exactly one wins.
	statuses := make([]int, 2)
	codes := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var e adminError
			statuses[i] = instances[i].Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/"+retired[i]+"/discard", nil, &e)
			codes[i] = e.Error.Code
		}()
	}
	wg.Wait()
	wins := 0
	for i := range 2 {
		switch {
		case statuses[i] == http.StatusOK:
			wins++
		case statuses[i] == http.StatusConflict && (codes[i] == "inactive_key_exists" || codes[i] == "concurrent_update"):
		default:
			t.Fatalf("discard %d: %d %s", i, statuses[i], codes[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d of two racing discards won, want exactly 1 (%v %v)", wins, statuses, codes)
	}
	// Both instances converge on the stored set.
	l = keyListing(t, first)
	checkInvariants(t, l, first)
	for _, in := range instances {
		waitUntil(t, "the instances to load the final key set", func() bool { return in.Server.Keys.Version() >= l.Version })
	}
	a, _ := first.Server.Keys.ActiveKey()
	b, _ := second.Server.Keys.ActiveKey()
	_, etagA := first.Server.Keys.JWKS()
	_, etagB := second.Server.Keys.JWKS()
	if a != b || etagA != etagB {
		t.Fatalf("instances disagree: active %s vs %s, JWKS %s vs %s", a, b, etagA, etagB)
	}
	checkInvariants(t, keyListing(t, second), second)
	// Each kid was activated at most once, by audit.
	ev, err := first.Server.Audit.List(context.Background(), storage.AuditFilter{Action: signingkeys.ActionKeyActivate, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	activated := map[string]int{}
	for _, e := range ev {
		activated[e.Target]++
		if activated[e.Target] > 1 {
			t.Fatalf("key %s was activated twice", e.Target)
		}
	}
}

// A new key-encryption key is introduced without downtime: restart with
// the new KEK and the old one in kek_previous, re-seal through the admin
// API, then drop the old KEK; the keys, the JWKS and signing survive
// (issue 3, item 7).
func TestKEKRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := testserver.NewClock()
	oldKEK, newKEK := kek.New(), kek.New()
	issuer := func(c *server.Config) { c.Issuer = "http://issuer.test" }
	first := testserver.StartWith(t, testserver.Config(dir), clock, issuer, func(c *server.Config) { c.KEK = oldKEK })
	app := first.CreateApp(t, map[string]any{"name": "kek", "scopes": []string{"read"}, "audiences": []string{api}})
	// Two keys, so that a retired key is re-sealed too.
	if status := first.Admin(t, "", http.MethodPost, "/admin/v1/signing-keys/rotate", map[string]bool{"immediate": true}, nil); status != http.StatusOK {
		t.Fatalf("rotate: %d", status)
	}
	jwksBefore := fetchJWKS(t, first.PublicURL)
	tok := issue(t, tokenSource(first, app), clock)
	first.Stop(t)

	second := testserver.StartWith(t, testserver.Config(dir), clock, issuer, func(c *server.Config) {
		c.KEK, c.KEKPrevious = newKEK, []string{oldKEK}
	})
	second.AdminKey = first.AdminKey
	var st signingkeys.KEKStatus
	if status := second.Admin(t, "", http.MethodGet, "/admin/v1/kek", nil, &st); status != http.StatusOK {
		t.Fatalf("kek status: %d", status)
	}
	oldID := func() string {
		k, _ := kek.Parse(oldKEK)
		return kek.ID(k)
	}()
	if st.SigningKeys[oldID] != 2 || st.CurrentKEKID == oldID {
		t.Fatalf("before the re-seal: %+v", st)
	}
	st = signingkeys.KEKStatus{}
	if status := second.Admin(t, "", http.MethodPost, "/admin/v1/kek/rotate", nil, &st); status != http.StatusOK || st.Resealed != 2 || st.SigningKeys[st.CurrentKEKID] != 2 || len(st.SigningKeys) != 1 {
		t.Fatalf("kek rotate: %d %+v", status, st)
	}
	if _, _, err := verifyToken(issue(t, tokenSource(second, app), clock).token, fetchJWKS(t, second.PublicURL), "http://issuer.test", api, clock.Now()); err != nil {
		t.Fatalf("signing after the re-seal: %v", err)
	}
	second.Stop(t)

	third := testserver.StartWith(t, testserver.Config(dir), clock, issuer, func(c *server.Config) { c.KEK = newKEK })
	if !reflect.DeepEqual(fetchJWKS(t, third.PublicURL), jwksBefore) {
		t.Fatal("the JWKS changed across the KEK rotation")
	}
	if _, _, err := verifyToken(tok.token, fetchJWKS(t, third.PublicURL), "http://issuer.test", api, clock.Now()); err != nil {
		t.Fatalf("a token from before the KEK rotation: %v", err)
	}
	if _, _, err := verifyToken(issue(t, tokenSource(third, app), clock).token, fetchJWKS(t, third.PublicURL), "http://issuer.test", api, clock.Now()); err != nil {
		t.Fatalf("signing with only the new KEK: %v", err)
	}
}

// The schedule options are validated against each other (issue 3, items
// 2 and 3).
func TestKeyScheduleValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(c *server.Config)
		bad  string
	}{
		{"defaults", func(*server.Config) {}, ""},
		{"publish-ahead shorter than the JWKS max-age", func(c *server.Config) { c.Keys.PublishAhead = 4 * time.Minute }, "keys.publish_ahead"},
		{"JWKS max-age beyond publish-ahead", func(c *server.Config) { c.Keys.JWKSMaxAge = 24 * time.Hour }, "keys.publish_ahead"},
		{"retention shorter than a token", func(c *server.Config) { c.Keys.Retention = 24 * time.Hour }, "keys.retention"},
		{"rotation shorter than publish-ahead", func(c *server.Config) { c.Keys.RotationPeriod = time.Hour }, "keys.rotation_period"},
		{"negative rotation", func(c *server.Config) { c.Keys.RotationPeriod = -time.Hour }, "keys.rotation_period"},
		{"rotation off", func(c *server.Config) { c.Keys.RotationPeriod = 0 }, ""},
		{"zero publish-ahead", func(c *server.Config) { c.Keys.PublishAhead = 0 }, "keys.publish_ahead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			tc.set(&cfg)
			err := cfg.Validate()
			if tc.bad == "" && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
				t.Fatalf("error %v, want one about %s", err, tc.bad)
			}
		})
	}
}
