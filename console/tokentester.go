package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// tokenData is the data of token.html: the form's values (never the
// secret) and the outcome of the last request.
type tokenData struct {
	ClientID, Scope, Audience string
	Result                    *tokenResult
}

// tokenResult is what the token endpoint answered, decoded.
type tokenResult struct {
	Status int
	// Error and ErrorDescription are the RFC 6749 §5.2 error, if any.
	Error, ErrorDescription string
	TokenType               string
	ExpiresIn               string
	Scope                   string
	AccessToken             string
	// Header and Claims are the JWT's decoded parts, indented JSON.
	Header, Claims string
	Times          []claimTime
	// Verified: the signature checks against the published JWKS under
	// the header's kid; VerifyNote says why not otherwise.
	Verified   bool
	KID        string
	VerifyNote string
}

type claimTime struct {
	Name string
	At   time.Time
}

func (c *Console) tokenPage(q *request) {
	v := q.r.URL.Query()
	c.show(q, http.StatusOK, "token", "Token tester", "token", tokenData{ClientID: v.Get("client_id")})
}

// testToken asks the token endpoint for a client credentials token
// (RFC 6749 §4.4) with the client id and secret the operator typed,
// authenticating with client_secret_basic (§2.3.1), and shows the token's
// decoded header and claims (RFC 9068). The request runs through the
// public listener's handler in-process: the same parsing, client
// authentication, grant and signing as any client's request. The secret
// is used for this one request: never stored, logged or shown again.
func (c *Console) testToken(q *request) {
	d := tokenData{
		ClientID: strings.TrimSpace(q.r.PostFormValue("client_id")),
		Scope:    strings.TrimSpace(q.r.PostFormValue("scope")),
		Audience: strings.TrimSpace(q.r.PostFormValue("audience")),
	}
	secret := strings.TrimSpace(q.r.PostFormValue("client_secret"))
	form := url.Values{"grant_type": {"client_credentials"}}
	if d.Scope != "" {
		form.Set("scope", d.Scope)
	}
	if d.Audience != "" {
		form.Set("audience", d.Audience)
	}
	req, err := http.NewRequestWithContext(q.r.Context(), http.MethodPost, c.o.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		c.failPage(q, err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(d.ClientID), url.QueryEscape(secret))
	req.RemoteAddr = q.r.RemoteAddr
	rec := &recorder{header: http.Header{}}
	c.o.TokenEndpoint.ServeHTTP(rec, req)
	d.Result = c.decodeTokenResponse(rec)
	status := http.StatusOK
	if d.Result.Status != http.StatusOK {
		status = http.StatusUnprocessableEntity
	}
	c.show(q, status, "token", "Token tester", "token", d)
}

// decodeTokenResponse reads the token endpoint's answer.
func (c *Console) decodeTokenResponse(rec *recorder) *tokenResult {
	res := &tokenResult{Status: rec.status}
	if res.Status == 0 {
		res.Status = http.StatusOK
	}
	var body map[string]any
	if err := json.Unmarshal(rec.body.Bytes(), &body); err != nil {
		res.Error, res.ErrorDescription = "unreadable_response", "the token endpoint did not answer JSON"
		return res
	}
	str := func(k string) string {
		switch v := body[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64) + " s (" + (time.Duration(v) * time.Second).String() + ")"
		}
		return ""
	}
	if res.Status != http.StatusOK {
		res.Error, res.ErrorDescription = str("error"), str("error_description")
		return res
	}
	res.TokenType, res.ExpiresIn, res.Scope, res.AccessToken = str("token_type"), str("expires_in"), str("scope"), str("access_token")
	parts := strings.Split(res.AccessToken, ".")
	if len(parts) != 3 {
		res.VerifyNote = "the access token is not a JWS compact serialization"
		return res
	}
	res.Header = prettySegment(parts[0])
	res.Claims = prettySegment(parts[1])
	var claims map[string]any
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(b, &claims) == nil {
		for _, name := range []string{"iat", "nbf", "exp"} {
			if f, ok := claims[name].(float64); ok {
				res.Times = append(res.Times, claimTime{Name: name, At: time.Unix(int64(f), 0).UTC()})
			}
		}
	}
	res.Verified, res.KID, res.VerifyNote = c.verify(res.AccessToken)
	return res
}

// verify checks the token's signature against the published JWKS, as an
// offline resource server would (RFC 7515 §5.2, the key chosen by kid).
func (c *Console) verify(token string) (ok bool, kid, note string) {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return false, "", "the token does not parse as a JWS"
	}
	kid = jws.Signatures[0].Header.KeyID
	body, _ := c.o.Keys.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return false, kid, "the JWKS cannot be read"
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return false, kid, "no key with this kid is published"
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		return false, kid, "the signature does not verify"
	}
	return true, kid, ""
}

// prettySegment decodes a base64url JWT segment and indents its JSON.
func prettySegment(seg string) string {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "(not base64url)"
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// recorder is the response of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
