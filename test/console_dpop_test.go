package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver/authserver/test/testserver"
)

// The app page shows the app's DPoP policy to every role, and an admin
// changes it there: the token endpoint follows at once.
func TestConsoleDPoPPolicy(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	app := in.CreateApp(t, map[string]any{"name": "billing"})
	appPath := "/console/apps/" + app.ClientID
	_, viewerKey := createAccountKey(t, in, "auditor", "viewer")
	admin := newConsoleClient(t, in)
	token := admin.signIn(in.AdminKey)

	page := admin.get(appPath)
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="dpop-form"`) ||
		!strings.Contains(page.body, "optional: a request without a proof gets a Bearer token") ||
		strings.Contains(page.body, `name="dpop_bound_access_tokens" value="on" checked`) {
		t.Fatalf("app page: status %d, the policy (off) or its form missing", page.status)
	}

	r := admin.post(appPath+"/dpop", url.Values{"csrf": {token}, "dpop_bound_access_tokens": {"on"}, "dpop_nonce_required": {"on"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != appPath {
		t.Fatalf("save: %d %q", r.status, r.header.Get("Location"))
	}
	page = admin.get(appPath)
	if !strings.Contains(page.body, "DPoP policy updated") || !strings.Contains(page.body, `name="dpop_bound_access_tokens" value="on" checked`) ||
		!strings.Contains(page.body, `name="dpop_nonce_required" value="on" checked`) {
		t.Fatalf("after saving, the page does not show the policy on:\n%s", page.body)
	}
	var got struct {
		Bound bool `json:"dpop_bound_access_tokens"`
		Nonce bool `json:"dpop_nonce_required"`
	}
	mustAdmin(t, in, http.StatusOK, http.MethodGet, "/admin/v1/apps/"+app.ClientID, nil, &got)
	if !got.Bound || !got.Nonce {
		t.Fatalf("admin API after the console: %+v", got)
	}
	u := in.PublicURL + "/oauth2/token"
	auth := map[string]string{"Authorization": basic(app.ClientID, app.ClientSecret)}
	if r := postProofs(t, u, url.Values{"grant_type": {"client_credentials"}}, auth); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("no proof once the console required one: %d %v", r.status, r.body)
	}

	// A viewer sees the policy, without the form.
	viewer := newConsoleClient(t, in)
	viewer.signIn(viewerKey)
	page = viewer.get(appPath)
	if page.status != http.StatusOK || strings.Contains(page.body, `id="dpop-form"`) || !strings.Contains(page.body, "every token request must carry a DPoP proof") {
		t.Fatalf("viewer's app page: status %d", page.status)
	}

	// Unticking one box turns only that one off; the same form again
	// changes nothing.
	before := in.DumpStore(t)
	same := url.Values{"csrf": {token}, "dpop_bound_access_tokens": {"on"}, "dpop_nonce_required": {"on"}}
	if r := admin.post(appPath+"/dpop", same); r.status != http.StatusSeeOther || !strings.Contains(admin.get(appPath).body, "Nothing changed.") {
		t.Fatalf("unchanged form: %d", r.status)
	}
	assertStoreUnchanged(t, in, before)
	if r := admin.post(appPath+"/dpop", url.Values{"csrf": {token}, "dpop_bound_access_tokens": {"on"}}); r.status != http.StatusSeeOther {
		t.Fatalf("untick the nonce: %d", r.status)
	}
	mustAdmin(t, in, http.StatusOK, http.MethodGet, "/admin/v1/apps/"+app.ClientID, nil, &got)
	if !got.Bound || got.Nonce {
		t.Fatalf("after unticking the nonce: %+v", got)
	}
	key := newBindKey(t, jose.ES256)
	if r := postProofs(t, u, url.Values{"grant_type": {"client_credentials"}}, auth, key.proof(t, proofClaims(http.MethodPost, u, in.Clock.Now()))); r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("a proof without a nonce once none is required: %d %v", r.status, r.body)
	}
}
