package test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/authserver/authserver/test/testserver"
)

// rfc8414Fields are the metadata fields of RFC 8414 §2, and those later
// RFCs registered in its registry (§7.1) that the server has, with what
// the spec says of each: "url" for a URL value, "strings" for a JSON
// array of strings.
var rfc8414Fields = map[string]string{
	"issuer":                                "url",
	"authorization_endpoint":                "url",
	"token_endpoint":                        "url",
	"jwks_uri":                              "url",
	"registration_endpoint":                 "url",
	"scopes_supported":                      "strings",
	"response_types_supported":              "strings",
	"response_modes_supported":              "strings",
	"grant_types_supported":                 "strings",
	"token_endpoint_auth_methods_supported": "strings",
	"token_endpoint_auth_signing_alg_values_supported":         "strings",
	"service_documentation":                                    "url",
	"ui_locales_supported":                                     "strings",
	"op_policy_uri":                                            "url",
	"op_tos_uri":                                               "url",
	"revocation_endpoint":                                      "url",
	"revocation_endpoint_auth_methods_supported":               "strings",
	"revocation_endpoint_auth_signing_alg_values_supported":    "strings",
	"introspection_endpoint":                                   "url",
	"introspection_endpoint_auth_methods_supported":            "strings",
	"introspection_endpoint_auth_signing_alg_values_supported": "strings",
	"code_challenge_methods_supported":                         "strings",
	// RFC 9449 §5.1.
	"dpop_signing_alg_values_supported": "strings",
}

// ownFields are this server's extensions (RFC 8414 §2 lets a server add
// fields), documented in docs/metadata.md.
var ownFields = map[string]string{"customer_authenticate_endpoint": "url", "customer_authenticate_grant_types_supported": "strings"}

// fetchMetadata GETs the metadata document at path and returns its bytes
// and fields, failing unless it is a 200 application/json object.
func fetchMetadata(t *testing.T, in *testserver.Instance, path string) ([]byte, map[string]json.RawMessage) {
	t.Helper()
	resp, err := http.Get(in.PublicURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || mt != "application/json" {
		t.Fatalf("GET %s: %d %q %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return raw, fields
}

// The metadata document against RFC 8414 §2 and §3, rule by rule.
func TestMetadataRFC8414(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	_, md := fetchMetadata(t, in, "/.well-known/oauth-authorization-server")
	strs := map[string][]string{}
	urls := map[string]string{}
	for name, raw := range md {
		kind, ok := rfc8414Fields[name]
		if !ok {
			kind, ok = ownFields[name]
		}
		if !ok {
			t.Errorf("field %s is neither RFC 8414's nor documented", name)
			continue
		}
		switch kind {
		case "url":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Errorf("%s is not a string: %s", name, raw)
				continue
			}
			u, err := url.Parse(s)
			// https, or http on a loopback address (the tests' issuer).
			if err != nil || u.Host == "" || u.Fragment != "" || !(u.Scheme == "https" || u.Scheme == "http" && net.ParseIP(u.Hostname()).IsLoopback()) {
				t.Errorf("%s %q is not an absolute https URL", name, s)
			}
			urls[name] = s
		case "strings":
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil || list == nil {
				t.Errorf("%s is not a JSON array of strings: %s", name, raw)
				continue
			}
			// §3.2: "Claims with zero elements MUST be omitted". The one
			// exception is response_types_supported, which §2 makes
			// REQUIRED even for a server with no authorization endpoint
			// (erratum 7793 reports the conflict): [] is the true answer.
			if len(list) == 0 && name != "response_types_supported" {
				t.Errorf("%s has zero elements and must be omitted (§3.2)", name)
			}
			strs[name] = list
		}
	}

	// issuer: REQUIRED, https, no query or fragment, and identical to the
	// issuer the well-known URL was built from (§3.3).
	if iss, err := url.Parse(urls["issuer"]); urls["issuer"] != in.PublicURL || err != nil || iss.RawQuery != "" || iss.Fragment != "" {
		t.Errorf("issuer %q, want %q with no query or fragment", urls["issuer"], in.PublicURL)
	}
	grants := strs["grant_types_supported"]
	// grant_types_supported: OPTIONAL, but its default
	// ["authorization_code", "implicit"] would be false here.
	if len(grants) == 0 {
		t.Error("grant_types_supported missing: its default names grants the server has not")
	}
	usesAuthorizationEndpoint := slices.Contains(grants, "authorization_code") || slices.Contains(grants, "implicit")
	// authorization_endpoint: REQUIRED unless no grant type uses it; the
	// fields that describe it go with it.
	for _, f := range []string{"authorization_endpoint", "response_modes_supported", "code_challenge_methods_supported"} {
		if _, has := md[f]; has != usesAuthorizationEndpoint {
			t.Errorf("%s present: %v, but grants using the authorization endpoint: %v", f, has, usesAuthorizationEndpoint)
		}
	}
	// token_endpoint: REQUIRED unless only the implicit grant is supported.
	if urls["token_endpoint"] != in.PublicURL+"/oauth2/token" {
		t.Errorf("token_endpoint %q", urls["token_endpoint"])
	}
	// response_types_supported: REQUIRED.
	if _, ok := md["response_types_supported"]; !ok {
		t.Error("response_types_supported missing (REQUIRED)")
	}
	// registration_endpoint: the server has no RFC 7591 registration.
	if _, ok := md["registration_endpoint"]; ok {
		t.Error("registration_endpoint advertised, but clients are registered through the admin API")
	}
	// For the token, revocation and introspection endpoints: the auth
	// methods (default client_secret_basic when omitted), and the signing
	// algorithms, which MUST be present when private_key_jwt or
	// client_secret_jwt is listed, MUST NOT include "none", and come from
	// one list for all three endpoints (ClientAuthenticator).
	for _, prefix := range []string{"token_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		methods, algs := strs[prefix+"_auth_methods_supported"], strs[prefix+"_auth_signing_alg_values_supported"]
		if len(methods) == 0 {
			t.Errorf("%s_auth_methods_supported missing: its default, client_secret_basic alone, is not the whole truth", prefix)
		}
		if jwt := slices.Contains(methods, "private_key_jwt") || slices.Contains(methods, "client_secret_jwt"); jwt && len(algs) == 0 {
			t.Errorf("%s_auth_signing_alg_values_supported missing while %s_auth_methods_supported is %v (REQUIRED, §2)", prefix, prefix, methods)
		}
		if slices.Contains(algs, "none") {
			t.Errorf("%s_auth_signing_alg_values_supported lists none", prefix)
		}
		if !slices.Contains(algs, "RS256") {
			t.Errorf("%s_auth_signing_alg_values_supported %v lacks RS256 (SHOULD)", prefix, algs)
		}
		if !reflect.DeepEqual(algs, strs["token_endpoint_auth_signing_alg_values_supported"]) || !reflect.DeepEqual(methods, strs["token_endpoint_auth_methods_supported"]) {
			t.Errorf("%s authenticates clients unlike the token endpoint: %v %v", prefix, methods, algs)
		}
	}

	// Every endpoint advertised answers at its URL: the JWKS with a key
	// set, the POST endpoints with an RFC 6749 §5.2 error to an
	// unauthenticated request, never a 404.
	resp := get(t, urls["jwks_uri"])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Errorf("jwks_uri: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, f := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint", "customer_authenticate_endpoint"} {
		r := postFormTo(t, urls[f], url.Values{"token": {"x"}}, nil)
		if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized || r.str("error") == "" {
			t.Errorf("%s %s: %d %v", f, urls[f], r.status, r.body)
		}
	}
}

// oidcProviderJSON is the shape go-oidc v3's NewProvider decodes the
// discovery document into (oidc/oidc.go, providerJSON): a field of another
// JSON type fails its decoding.
type oidcProviderJSON struct {
	Issuer                 string   `json:"issuer"`
	AuthURL                string   `json:"authorization_endpoint"`
	TokenURL               string   `json:"token_endpoint"`
	JWKSURL                string   `json:"jwks_uri"`
	UserInfoURL            string   `json:"userinfo_endpoint"`
	DeviceAuthorizationURL string   `json:"device_authorization_endpoint"`
	Algorithms             []string `json:"id_token_signing_alg_values_supported"`
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
}

// /.well-known/openid-configuration serves the RFC 8414 document itself
// (RFC 8414 §5), which is what go-oidc's NewProvider, ASP.NET Core's
// JwtBearer and Spring's issuer-uri fetch: they need a 200 JSON object
// whose issuer is the issuer exactly and a jwks_uri. It claims nothing of
// OpenID Connect the server does not do: no ID tokens, no userinfo.
func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	oauth, _ := fetchMetadata(t, in, "/.well-known/oauth-authorization-server")
	oidc, fields := fetchMetadata(t, in, "/.well-known/openid-configuration")
	if !bytes.Equal(oauth, oidc) {
		t.Fatalf("two documents:\n%s\n%s", oauth, oidc)
	}
	var p oidcProviderJSON
	if err := json.Unmarshal(oidc, &p); err != nil {
		t.Fatalf("go-oidc would fail to decode it: %v", err)
	}
	// NewProvider compares issuer with the string it was given, exactly.
	if p.Issuer != in.PublicURL || p.JWKSURL != in.PublicURL+"/.well-known/jwks.json" || p.TokenURL != in.PublicURL+"/oauth2/token" {
		t.Fatalf("provider %+v", p)
	}
	for _, f := range []string{
		"userinfo_endpoint", "id_token_signing_alg_values_supported", "subject_types_supported", "claims_supported",
		"end_session_endpoint", "acr_values_supported", "request_parameter_supported", "claims_parameter_supported",
		"id_token_encryption_alg_values_supported", "userinfo_signing_alg_values_supported",
	} {
		if _, ok := fields[f]; ok {
			t.Errorf("claims OpenID Connect's %s", f)
		}
	}
	var scopes []string
	_ = json.Unmarshal(fields["scopes_supported"], &scopes)
	if slices.Contains(scopes, "openid") {
		t.Error("scopes_supported lists openid")
	}
	// HEAD as GET, for clients that probe.
	req, _ := http.NewRequest(http.MethodHead, in.PublicURL+"/.well-known/openid-configuration", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
}
