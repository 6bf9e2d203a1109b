package test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/authserver/authserver/test/testserver"
)

// createAccountKey creates an account key with the owner key and returns
// its id and plaintext.
func createAccountKey(t testing.TB, in *testserver.Instance, name, role string) (id, key string) {
	t.Helper()
	var k struct {
		ID     string `json:"key_id"`
		Key    string `json:"key"`
		Role   string `json:"role"`
		Masked string `json:"masked"`
	}
	mustAdmin(t, in, http.StatusCreated, http.MethodPost, "/admin/v1/account-keys", map[string]any{"name": name, "role": role}, &k)
	if k.Role != role || !strings.HasPrefix(k.Key, "ak_") || k.Masked != "ak_…"+k.Key[len(k.Key)-4:] {
		t.Fatalf("created account key %+v", k)
	}
	return k.ID, k.Key
}

// The role matrix (seed 000, issue 4): every admin route with each role,
// with no key and with a wrong key. Viewers read masked metadata only,
// admins manage apps and secrets, owners also manage account keys. A
// refusal is 403 (401 without a valid key), changes nothing, and is
// counted in the audit log.
func TestAdminRoleMatrix(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	_, adminKey := createAccountKey(t, in, "ops", "admin")
	_, viewerKey := createAccountKey(t, in, "dashboard", "viewer")
	app := in.CreateApp(t, map[string]any{"name": "matrix", "scopes": []string{"read"}})
	appPath := "/admin/v1/apps/" + app.ClientID
	secretPath := appPath + "/secrets/" + app.SecretID

	routes := []struct {
		method, path string
		body         map[string]any
		need         string // the least role allowed
	}{
		{"GET", "/admin/v1/apps", nil, "viewer"},
		{"GET", appPath, nil, "viewer"},
		{"GET", appPath + "/secrets", nil, "viewer"},
		{"GET", secretPath, nil, "viewer"},
		{"GET", "/admin/v1/audit", nil, "viewer"},
		{"POST", "/admin/v1/apps", map[string]any{"name": "made by a role"}, "admin"},
		{"PATCH", appPath, map[string]any{"name": "renamed"}, "admin"},
		{"POST", appPath + "/disable", nil, "admin"},
		{"POST", appPath + "/enable", nil, "admin"},
		{"POST", appPath + "/secrets", nil, "admin"},
		{"POST", appPath + "/secrets/rotate", map[string]any{"grace_period": "1h"}, "admin"},
		{"POST", appPath + "/secrets/sec_0000000000000000/discard", nil, "admin"},
		{"POST", appPath + "/secrets/sec_0000000000000000/reactivate", nil, "admin"},
		{"DELETE", appPath + "/secrets/sec_0000000000000000?confirm=sec_0000000000000000", nil, "admin"},
		{"GET", "/admin/v1/signing-keys", nil, "viewer"},
		{"GET", "/admin/v1/kek", nil, "viewer"},
		{"POST", "/admin/v1/signing-keys/rotate", map[string]any{"immediate": false}, "admin"},
		{"POST", "/admin/v1/signing-keys/nope/discard", nil, "admin"},
		{"POST", "/admin/v1/signing-keys/nope/reactivate", nil, "admin"},
		{"DELETE", "/admin/v1/signing-keys/nope?confirm=nope", nil, "admin"},
		{"POST", "/admin/v1/kek/rotate", nil, "admin"},
		{"GET", "/admin/v1/account-keys", nil, "owner"},
		{"POST", "/admin/v1/account-keys", map[string]any{"name": "made by a role", "role": "viewer"}, "owner"},
		{"DELETE", "/admin/v1/account-keys/acck_00000000000000000", nil, "owner"},
	}
	rank := map[string]int{"viewer": 1, "admin": 2, "owner": 3}
	keys := map[string]string{"owner": in.AdminKey, "admin": adminKey, "viewer": viewerKey}
	badKey := "ak_" + strings.Repeat("0", 49)

	// Every refusal first, against an unchanging store.
	before := in.DumpStore(t)
	forbidden := 0
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		for _, role := range []string{"viewer", "admin"} {
			if rank[role] >= rank[rt.need] {
				continue
			}
			r := adminCall(t, in, keys[role], rt.method, rt.path, rt.body)
			if r.status != http.StatusForbidden || r.code() != "forbidden" {
				t.Errorf("%s as %s: %d %s, want 403 forbidden", name, role, r.status, r.body)
			}
			forbidden++
		}
		for _, key := range []string{"-", badKey, viewerKey + "x"} {
			r := adminCall(t, in, key, rt.method, rt.path, rt.body)
			if r.status != http.StatusUnauthorized || r.code() != "unauthenticated" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s with key %.6q: %d %s %v, want 401 unauthenticated with WWW-Authenticate", name, key, r.status, r.body, r.header)
			}
		}
	}
	assertStoreUnchanged(t, in, before)

	// Then what each role may do.
	for _, rt := range routes {
		for _, role := range []string{"viewer", "admin", "owner"} {
			if rank[role] < rank[rt.need] {
				continue
			}
			r := adminCall(t, in, keys[role], rt.method, rt.path, rt.body)
			if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || r.status >= 500 {
				t.Errorf("%s %s as %s: %d %s, want it allowed", rt.method, rt.path, role, r.status, r.body)
			}
		}
	}

	// What a viewer reads is masked metadata.
	r := adminCall(t, in, viewerKey, "GET", appPath, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"masked":"sk_live_…`) || strings.Contains(string(r.body), "digest") {
		t.Fatalf("viewer's view of an app: %s", r.body)
	}
	assertNoneIn(t, "a viewer's view", string(r.body), app.ClientSecret)

	// Refusals are counted, not stored one by one; flushing writes one
	// event per distinct refusal with its count.
	if err := in.Server.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var events struct {
		Items []struct {
			Actor, Action, Target, Outcome, Source string
			Detail                                 map[string]string
		} `json:"items"`
	}
	mustAdmin(t, in, 200, "GET", "/admin/v1/audit?action=admin.request&limit=500", nil, &events)
	total := 0
	for _, e := range events.Items {
		if e.Outcome != "forbidden" || !strings.HasPrefix(e.Actor, "acck_") || e.Source != "127.0.0.1" || !strings.Contains(e.Target, "/admin/v1/") {
			t.Errorf("refusal event %+v", e)
		}
		n, _ := strconv.Atoi(e.Detail["count"])
		total += n
	}
	if total != forbidden {
		t.Errorf("audit counts %d refusals, want %d", total, forbidden)
	}
	mustAdmin(t, in, 200, "GET", "/admin/v1/audit?action=admin.authenticate", nil, &events)
	if len(events.Items) != 1 || events.Items[0].Actor != "anonymous" || events.Items[0].Outcome != "unauthenticated" ||
		events.Items[0].Detail["count"] != strconv.Itoa(3*len(routes)) {
		t.Errorf("failed authentications in the audit log: %+v, want one event counting %d", events.Items, 3*len(routes))
	}
	assertNoneIn(t, "the log", in.Logs.String(), adminKey, viewerKey, in.AdminKey, app.ClientSecret)
}

// Account keys: created with a role and shown once, listed masked,
// deleted; only owners manage them and an owner always remains.
func TestAccountKeys(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t)
	ownerID, owner2 := createAccountKey(t, in, "second owner", "owner")
	viewerID, viewer := createAccountKey(t, in, "viewer", "viewer")

	var page struct {
		Items []map[string]any `json:"items"`
	}
	mustAdmin(t, in, 200, "GET", "/admin/v1/account-keys", nil, &page)
	if len(page.Items) != 3 {
		t.Fatalf("%d keys listed, want 3", len(page.Items))
	}
	for _, k := range page.Items {
		if _, leaked := k["key"]; leaked || !strings.HasPrefix(k["masked"].(string), "ak_…") {
			t.Fatalf("listed key %v", k)
		}
	}
	for _, bad := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"name": "x", "role": "root"}, "invalid_role"},
		{map[string]any{"name": " ", "role": "viewer"}, "invalid_name"},
		{map[string]any{"name": "x", "role": "viewer", "extra": 1}, "invalid_json"},
	} {
		before := in.DumpStore(t)
		if r := adminCall(t, in, "", "POST", "/admin/v1/account-keys", bad.body); r.status != 400 || r.code() != bad.code {
			t.Errorf("create %v: %d %s, want 400 %s", bad.body, r.status, r.body, bad.code)
		}
		assertStoreUnchanged(t, in, before)
	}

	// The first owner key deletes the second owner: allowed (one remains).
	if r := adminCall(t, in, "", "DELETE", "/admin/v1/account-keys/"+ownerID, nil); r.status != 204 {
		t.Fatalf("delete the second owner: %d %s", r.status, r.body)
	}
	if r := adminCall(t, in, owner2, "GET", "/admin/v1/apps", nil); r.status != 401 {
		t.Fatalf("a deleted key still authenticates: %d", r.status)
	}
	// The last owner cannot be deleted, by itself or anyone.
	var self []map[string]any
	mustAdmin(t, in, 200, "GET", "/admin/v1/account-keys", nil, &page)
	for _, k := range page.Items {
		if k["role"] == "owner" {
			self = append(self, k)
		}
	}
	if len(self) != 1 {
		t.Fatalf("owners: %v", self)
	}
	before := in.DumpStore(t)
	if r := adminCall(t, in, "", "DELETE", "/admin/v1/account-keys/"+self[0]["key_id"].(string), nil); r.status != 409 || r.code() != "last_owner" {
		t.Fatalf("delete the last owner: %d %s, want 409 last_owner", r.status, r.body)
	}
	assertStoreUnchanged(t, in, before)
	// A viewer key is deleted and stops at once.
	if r := adminCall(t, in, "", "DELETE", "/admin/v1/account-keys/"+viewerID, nil); r.status != 204 {
		t.Fatalf("delete the viewer: %d %s", r.status, r.body)
	}
	if r := adminCall(t, in, viewer, "GET", "/admin/v1/apps", nil); r.status != 401 {
		t.Fatalf("a deleted viewer key still authenticates: %d", r.status)
	}
	if r := adminCall(t, in, "", "DELETE", "/admin/v1/account-keys/"+viewerID, nil); r.status != 404 || r.code() != "account_key_not_found" {
		t.Fatalf("delete twice: %d %s", r.status, r.body)
	}
	assertNoneIn(t, "the store", dumpText(in.DumpStore(t)), owner2, viewer, in.AdminKey)
}
