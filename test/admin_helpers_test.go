package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/test/testserver"
)

// adminResp is an admin API response: status, headers, raw body.
type adminResp struct {
	status int
	header http.Header
	body   []byte
}

// code returns the machine code of an admin error response ("" if none).
func (r adminResp) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// decode unmarshals the body into v.
func (r adminResp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// adminCall sends an admin API request with key (the owner key if "", no
// Authorization header if "-"), a JSON body if body is not nil, and extra
// headers as name, value pairs.
func adminCall(t testing.TB, in *testserver.Instance, key, method, path string, body any, headers ...string) adminResp {
	t.Helper()
	status, header, data := in.AdminRequest(t, key, method, path, body, headers...)
	return adminResp{status: status, header: header, body: data}
}

// adminCallResending is adminCall that sends the request again, up to
// three more times, while the answer is 409 concurrent_update: the
// admin API's documented "retry" when its compare-and-swap attempts ran
// out under contention (a writer slowed down on a busy machine under
// -race can outlast them). Tests of concurrent requests use it to assert
// on the outcome of the race, not on the retry budget.
func adminCallResending(t testing.TB, in *testserver.Instance, key, method, path string, body any, headers ...string) adminResp {
	t.Helper()
	r := adminCall(t, in, key, method, path, body, headers...)
	for i := 0; i < 3 && r.status == 409 && r.code() == "concurrent_update"; i++ {
		r = adminCall(t, in, key, method, path, body, headers...)
	}
	return r
}

// mustAdmin is adminCall that fails the test unless the status is want.
func mustAdmin(t testing.TB, in *testserver.Instance, want int, method, path string, body, out any, headers ...string) adminResp {
	t.Helper()
	r := adminCall(t, in, "", method, path, body, headers...)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		r.decode(t, out)
	}
	return r
}

// secretView is a masked secret as the admin API lists it.
type secretView struct {
	ID         string     `json:"secret_id"`
	Masked     string     `json:"masked"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Secret     string     `json:"client_secret"`
	Replay     *struct {
		Code string `json:"code"`
	} `json:"replay"`
}

type rotated struct {
	secretView
	Rotated secretView `json:"rotated"`
}

func listSecrets(t testing.TB, in *testserver.Instance, appID string) map[string]secretView {
	t.Helper()
	var page struct {
		Items []secretView `json:"items"`
	}
	mustAdmin(t, in, http.StatusOK, http.MethodGet, "/admin/v1/apps/"+appID+"/secrets", nil, &page)
	out := map[string]secretView{}
	for _, s := range page.Items {
		out[s.ID] = s
	}
	return out
}

func createSecret(t testing.TB, in *testserver.Instance, appID string) secretView {
	t.Helper()
	var s secretView
	mustAdmin(t, in, http.StatusCreated, http.MethodPost, "/admin/v1/apps/"+appID+"/secrets", nil, &s)
	return s
}

func rotateSecret(t testing.TB, in *testserver.Instance, appID string, body map[string]any) rotated {
	t.Helper()
	var r rotated
	mustAdmin(t, in, http.StatusCreated, http.MethodPost, "/admin/v1/apps/"+appID+"/secrets/rotate", body, &r)
	return r
}

func secretAction(t testing.TB, in *testserver.Instance, appID, secretID, action string) {
	t.Helper()
	mustAdmin(t, in, http.StatusOK, http.MethodPost, "/admin/v1/apps/"+appID+"/secrets/"+secretID+"/"+action, nil, nil)
}

// assertStoreUnchanged is unchanged that ends the test at once when the
// database differs from before.
func assertStoreUnchanged(t testing.TB, in *testserver.Instance, before map[string][]string) {
	t.Helper()
	if !unchanged(t, in, before) {
		t.Fatal("the store changed")
	}
}

// assertNoneIn fails if any of the secrets occurs in text.
func assertNoneIn(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret or token (…%s)", what, s[len(s)-4:])
		}
	}
}

// dumpText flattens a store dump into one string to search.
func dumpText(d map[string][]string) string {
	var b strings.Builder
	for col, docs := range d {
		b.WriteString(col)
		for _, doc := range docs {
			b.WriteString(doc)
		}
	}
	return b.String()
}
