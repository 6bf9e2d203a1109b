package test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/authserver/authserver/test/testserver"
)

// The admin console in a real browser (issue 8, item 8): headless
// Chromium driven through the DevTools protocol. The tests skip when no
// Chromium is installed; .ci/run installs Debian's chromium package.
// Screenshots of the main pages are written to test/artifacts/.

// chromiumPath finds a Chromium or Chrome binary: $AUTHSERVER_TEST_CHROMIUM,
// else the usual names on PATH; "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("AUTHSERVER_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// requireChromium returns the Chromium binary, or skips the test.
func requireChromium(t *testing.T) string {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no Chromium binary found (install Debian's chromium package, or set AUTHSERVER_TEST_CHROMIUM): skipping the console's browser tests")
	}
	return path
}

// browserTab is one headless Chromium with one tab, on the console of in.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu sync.Mutex
	// requested is every URL the tab requested.
	requested []string
}

// actionTimeout bounds every browser step, so that a page that never
// comes fails the test instead of hanging it.
const actionTimeout = 30 * time.Second

// newBrowser starts headless Chromium with a fresh profile, or skips the
// test when there is no Chromium. The flags keep it from reaching for the
// network on its own (this machine has none to give).
func newBrowser(t *testing.T, in *testserver.Instance) *browserTab {
	t.Helper()
	path := requireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	// The copy button writes to the clipboard, which the test then reads.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: in.AdminURL,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	b := &browserTab{t: t, ctx: ctx, base: in.AdminURL}
	if err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requested = append(b.requested, ev.Request.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRequestsStayHome fails the test if the pages made any request
// other than to the console's own origin (issue 8, item 9).
func (b *browserTab) checkRequestsStayHome() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requested) == 0 {
		b.t.Fatal("no request was recorded")
	}
	for _, u := range b.requested {
		if !strings.HasPrefix(u, b.base+"/") {
			b.t.Errorf("the page requested %s", u)
		}
	}
}

// checkAccessible checks what a page needs for screen readers and the
// keyboard (issue 8, item 9): one h1, every form control labelled, every
// picture named, no positive tabindex.
func (b *browserTab) checkAccessible(page string) {
	b.t.Helper()
	var problems []string
	b.eval(`(() => {
		const p = [];
		const h1 = document.querySelectorAll("h1").length;
		if (h1 !== 1) p.push(h1 + " h1 elements");
		for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
			if (el.labels.length === 0 && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")) p.push("unlabelled " + el.tagName + "#" + el.id);
		}
		for (const el of document.querySelectorAll("button, a[href]")) {
			const name = (el.getAttribute("aria-label") || el.textContent).trim();
			if (!name && !el.hidden) p.push("nameless " + el.tagName);
		}
		for (const el of document.querySelectorAll("svg[role=img]")) {
			if (!el.getAttribute("aria-labelledby") && !el.getAttribute("aria-label")) p.push("unnamed picture");
		}
		for (const el of document.querySelectorAll("[tabindex]")) {
			if (el.tabIndex > 0) p.push("positive tabindex on " + el.tagName);
		}
		if (document.documentElement.lang !== "en") p.push("no page language");
		return p;
	})()`, &problems)
	for _, p := range problems {
		b.t.Errorf("%s: %s", page, p)
	}
}

func (b *browserTab) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, actionTimeout)
}

// do runs steps that return nothing.
func (b *browserTab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// load runs steps that navigate (a link, a form) and returns the HTTP
// status of the page they lead to.
func (b *browserTab) load(steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return resp.Status
}

// open navigates to path on the admin listener and returns the status.
func (b *browserTab) open(path string) int64 {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// click clicks the element of a CSS selector and waits for the page it
// leads to; it fails the test unless that page's status is want.
func (b *browserTab) click(sel string, want int64) {
	b.t.Helper()
	if got := b.load(chromedp.Click(chromedp.CSS(sel))); got != want {
		b.t.Fatalf("clicking %s led to status %d, want %d; page: %s", sel, got, want, b.text("main"))
	}
}

func (b *browserTab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browserTab) value(sel string) string {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression (awaiting a promise) in the page
// and decodes its JSON value into out.
func (b *browserTab) eval(expr string, out any) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %q: %v", expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("evaluate %q: decode %s: %v", expr, raw, err)
		}
	}
}

// waitFor polls a JavaScript condition until it holds, for at most
// actionTimeout.
func (b *browserTab) waitFor(what, cond string) {
	b.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(actionTimeout)
	for {
		var ok bool
		if b.eval(cond, &ok); ok {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			b.t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// count is how many elements match a CSS selector.
func (b *browserTab) count(sel string) int {
	b.t.Helper()
	var n int
	b.eval(`document.querySelectorAll(`+jsString(sel)+`).length`, &n)
	return n
}

// attr is an attribute of the first element matching sel ("" if none).
func (b *browserTab) attr(sel, name string) string {
	b.t.Helper()
	var v string
	b.eval(`(document.querySelector(`+jsString(sel)+`)||{getAttribute:()=>""}).getAttribute(`+jsString(name)+`)||""`, &v)
	return v
}

// screenshot saves the whole page as test/artifacts/console-<name>.png,
// after checking its accessibility basics.
func (b *browserTab) screenshot(name string) {
	b.t.Helper()
	b.checkAccessible(name)
	ctx, cancel := b.timeout()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("artifacts", "console-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// signIn signs in on the sign-in page with an account key, with the
// keyboard only: the field has the focus, Enter submits.
func (b *browserTab) signIn(key string) {
	b.t.Helper()
	if status := b.open("/console/signin"); status != http.StatusOK {
		b.t.Fatalf("sign-in page: status %d", status)
	}
	// autofocus applies once the page has settled: poll for it.
	b.waitFor("the key field has the focus", `document.activeElement.id === "account_key"`)
	if status := b.load(chromedp.KeyEvent(key + "\r")); status != http.StatusOK {
		b.t.Fatalf("sign-in: status %d", status)
	}
	if h := b.text("h1"); h != "Apps" {
		b.t.Fatalf("after sign-in the page is %q, want Apps", h)
	}
}

// postForm submits a form built in the page (as a forger would, with the
// page's cookies) and returns the status of the answer.
func (b *browserTab) postForm(action string, fields map[string]string) int64 {
	b.t.Helper()
	if fields == nil {
		fields = map[string]string{}
	}
	f, _ := json.Marshal(fields)
	js := `(() => { const f = document.createElement("form"); f.method = "post"; f.action = ` + jsString(action) + `;
		for (const [k, v] of Object.entries(` + string(f) + `)) { const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i); }
		document.body.appendChild(f); f.submit(); })()`
	return b.load(chromedp.Evaluate[chromedp.Void](js))
}

// csrfToken reads the session's CSRF token from the sign-out form, which
// every signed-in page has.
func (b *browserTab) csrfToken() string {
	b.t.Helper()
	return b.value("form.signout input[name=csrf]")
}

var secretShape = regexp.MustCompile(`^sk_live_[0-9A-Za-z]{49}$`)

// The operator's whole path (issue 8, item 8): sign in, create an app,
// copy its secret, get a token with it through the token endpoint with a
// standard client, rotate the secret, discard and delete the old one,
// rotate a signing key and see the timeline change, sign out; and a form
// posted without the CSRF token is refused.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	in := testserver.Start(t)
	b := newBrowser(t, in)
	tokenURL := in.PublicURL + "/oauth2/token"

	b.open("/console/signin")
	b.screenshot("signin")
	b.signIn(in.AdminKey)

	// Create an app; its secret is shown once, with a copy button.
	b.click("#new-app", http.StatusOK)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#name"), "billing"),
		chromedp.SendKeys(chromedp.CSS("#scopes"), "read write"),
		chromedp.SendKeys(chromedp.CSS("#audiences"), api),
	)
	b.screenshot("app-new")
	b.click("#create-app-submit", http.StatusOK)
	if w := b.text("[role=alert]"); !strings.Contains(w, "will not be shown again") {
		t.Fatalf("no warning that the secret is shown once: %q", w)
	}
	clientID := b.text("#client-id")
	secret1ID := b.text("#secret-id")
	shown := b.value("#secret-value")
	b.do(chromedp.Click(chromedp.CSS("button[data-copy=secret-value]")))
	b.waitFor("the copy button reports the copy", `document.querySelector("button[data-copy=secret-value]").textContent === "Copied"`)
	var copied string
	b.eval(`navigator.clipboard.readText()`, &copied)
	if !secretShape.MatchString(copied) || copied != shown {
		t.Fatalf("the copy button put %q on the clipboard; the page shows a secret of %d characters", redact(copied), len(shown))
	}
	b.screenshot("secret-shown")
	secret1 := copied

	// The copied secret gets a token through the token endpoint.
	tok, err := tokenFor(tokenURL, clientID, secret1)
	if err != nil {
		t.Fatalf("token with the copied secret: %v", err)
	}
	claims, _, err := verifyToken(tok.AccessToken, fetchJWKS(t, in.PublicURL), in.PublicURL, api, time.Now())
	if err != nil || claims.ClientID != clientID || claims.SecretID != secret1ID {
		t.Fatalf("token claims %+v, err %v", claims, err)
	}

	// The token tester shows the decoded header and claims.
	b.open("/console/token?client_id=" + clientID)
	b.do(chromedp.SendKeys(chromedp.CSS("#client_secret"), secret1))
	b.click("#get-token", http.StatusOK)
	var hdr, cl map[string]any
	if err := json.Unmarshal([]byte(b.text("#jwt-header")), &hdr); err != nil || hdr["typ"] != "at+jwt" || hdr["kid"] == "" {
		t.Fatalf("decoded header %v (%v)", hdr, err)
	}
	if err := json.Unmarshal([]byte(b.text("#jwt-claims")), &cl); err != nil || cl["client_id"] != clientID || cl["scope"] != "read write" {
		t.Fatalf("decoded claims %v (%v)", cl, err)
	}
	if sig := b.text("#signature"); !strings.Contains(sig, "verified") || strings.Contains(sig, "not verified") {
		t.Fatalf("signature line %q", sig)
	}
	if v := b.value("#client_secret"); v != "" {
		t.Fatal("the token tester echoed the secret back into its form")
	}
	b.screenshot("token")

	// Rotate: a new secret shown once; the old one keeps working.
	b.open("/console/apps/" + clientID)
	b.click("#rotate-secret", http.StatusOK)
	secret2 := b.value("#secret-value")
	secret2ID := b.text("#secret-id")
	if !secretShape.MatchString(secret2) || secret2 == secret1 {
		t.Fatalf("rotation showed %q", redact(secret2))
	}
	if r := b.text(".rotated"); !strings.Contains(r, "keeps working until") {
		t.Fatalf("rotation page: %q", r)
	}
	for _, s := range []string{secret1, secret2} {
		if _, err := tokenFor(tokenURL, clientID, s); err != nil {
			t.Fatalf("during the grace period: %v", err)
		}
	}

	// Discard the old secret: refused at once.
	b.click("#back-to-app", http.StatusOK)
	b.click(`tr[data-secret-id="`+secret1ID+`"] button[data-action=discard]`, http.StatusOK)
	if f := b.text(".flash-ok"); !strings.Contains(f, "discarded") {
		t.Fatalf("after discard: %q", f)
	}
	if st := b.attr(`tr[data-secret-id="`+secret1ID+`"]`, "data-status"); st != "inactive" {
		t.Fatalf("discarded secret shows status %q", st)
	}
	if _, err := tokenFor(tokenURL, clientID, secret1); !isInvalidClient(err) {
		t.Fatalf("a discarded secret got %v, want invalid_client", err)
	}

	// Delete it: the button stays disabled until the app's name is typed.
	b.click(`tr[data-secret-id="`+secret1ID+`"] a[data-action=delete]`, http.StatusOK)
	var disabled bool
	b.eval(`document.querySelector("#confirm-delete-submit").disabled`, &disabled)
	if !disabled {
		t.Fatal("the delete button is enabled before the confirmation is typed")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#confirm"), "billin"))
	b.eval(`document.querySelector("#confirm-delete-submit").disabled`, &disabled)
	if !disabled {
		t.Fatal("the delete button is enabled for a wrong name")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#confirm"), "g"))
	b.eval(`document.querySelector("#confirm-delete-submit").disabled`, &disabled)
	if disabled {
		t.Fatal("the delete button stays disabled once the name matches")
	}
	b.screenshot("confirm-delete")
	b.click("#confirm-delete-submit", http.StatusOK)
	if n := b.count(`tr[data-secret-id="` + secret1ID + `"]`); n != 0 {
		t.Fatal("the deleted secret is still listed")
	}
	if n := b.count(`tr[data-secret-id="` + secret2ID + `"]`); n != 1 {
		t.Fatal("the new secret is not listed")
	}
	if _, err := tokenFor(tokenURL, clientID, secret2); err != nil {
		t.Fatalf("the new secret after the old one's deletion: %v", err)
	}
	b.screenshot("app")

	// A form posted without the CSRF token is refused and changes nothing.
	before := in.DumpStore(t)
	if status := b.postForm("/console/apps/"+clientID+"/disable", nil); status != http.StatusForbidden {
		t.Fatalf("a form without the CSRF token got %d, want 403", status)
	}
	if status := b.postForm("/console/apps/"+clientID+"/disable", map[string]string{"csrf": "forged"}); status != http.StatusForbidden {
		t.Fatalf("a form with a wrong CSRF token got %d, want 403", status)
	}
	assertStoreUnchanged(t, in, before)

	// The apps list, with search.
	b.open("/console/apps?q=bil")
	if n := b.count(`#apps a[href="/console/apps/` + clientID + `"]`); n != 1 {
		t.Fatal("searching by name prefix does not list the app")
	}
	b.screenshot("apps")

	// Signing keys: a scheduled rotation adds a next key to the timeline
	// and moves the next-rotation marker to when it signs.
	b.open("/console/keys")
	rowsBefore, markerBefore := b.attr("#key-timeline", "data-rows"), b.attr("#next-rotation-marker", "data-x")
	activeKID := b.attr(`#key-timeline g[data-state=active]`, "data-kid")
	if rowsBefore != "1" || activeKID == "" || markerBefore == "" {
		t.Fatalf("timeline before rotation: rows %s, active %q, marker %q", rowsBefore, activeKID, markerBefore)
	}
	b.click("#rotate-key", http.StatusOK)
	nextKID := b.attr(`#key-timeline g[data-state=next]`, "data-kid")
	if rows := b.attr("#key-timeline", "data-rows"); rows != "2" || nextKID == "" || nextKID == activeKID {
		t.Fatalf("timeline after rotation: rows %s, next %q", rows, nextKID)
	}
	if m := b.attr("#next-rotation-marker", "data-x"); m == markerBefore {
		t.Fatalf("the next-rotation marker stayed at x=%s", m)
	}
	if nr := b.text("#next-rotation"); !strings.Contains(nr, nextKID) {
		t.Fatalf("next rotation says %q, want key %s", nr, nextKID)
	}
	b.screenshot("keys")

	// After a compromise: rotate immediately, then discard and delete the
	// old key (typing its kid); it leaves the JWKS.
	b.do(chromedp.Click(chromedp.CSS("#rotate-immediate-form input[name=acknowledge]")))
	b.click("#rotate-immediate", http.StatusOK)
	if st := b.attr(`#key-timeline g[data-kid="`+activeKID+`"]`, "data-state"); st != "retired" {
		t.Fatalf("the old active key is %q after an immediate rotation", st)
	}
	b.click(`#keys tr[data-kid="`+activeKID+`"] button[data-action=discard]`, http.StatusOK)
	if st := b.attr(`#key-timeline g[data-kid="`+activeKID+`"]`, "data-state"); st != "inactive" {
		t.Fatalf("the discarded key is %q on the timeline", st)
	}
	b.screenshot("keys-discarded")
	b.click(`#keys tr[data-kid="`+activeKID+`"] a[data-action=delete]`, http.StatusOK)
	// By keyboard: type the kid and press Enter in the field.
	if status := b.load(chromedp.SendKeys(chromedp.CSS("#confirm"), activeKID+"\r")); status != http.StatusOK {
		t.Fatalf("deleting the key: status %d", status)
	}
	if n := b.count(`#key-timeline g[data-kid="` + activeKID + `"]`); n != 0 {
		t.Fatal("the deleted key is still on the timeline")
	}
	for _, k := range fetchJWKS(t, in.PublicURL).Keys {
		if k.KeyID == activeKID {
			t.Fatal("the deleted key is still in the JWKS")
		}
	}

	// The audit log, filtered by app, newest first.
	b.open("/console/audit?app=" + clientID)
	var actions []string
	b.eval(`[...document.querySelectorAll("#audit tbody tr")].map(r => r.dataset.event)`, &actions)
	want := []string{"secret.delete", "secret.discard", "secret.rotate", "app.create"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit log for the app: %v, want %v", actions, want)
	}
	b.open("/console/audit")
	b.screenshot("audit")

	// Sign out: the session is gone.
	b.click("#signout", http.StatusOK)
	if h := b.text("h1"); h != "Sign in" {
		t.Fatalf("after sign-out the page is %q", h)
	}
	b.open("/console/apps")
	if h := b.text("h1"); h != "Sign in" {
		t.Fatalf("after sign-out /console/apps shows %q", h)
	}
	b.checkRequestsStayHome()
}

// A viewer sees every listing and no action button, and a form it posts
// anyway (with its own valid session and CSRF token) is refused with 403
// and changes nothing.
func TestConsoleViewerInBrowser(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	in := testserver.Start(t)
	b := newBrowser(t, in)
	_, viewerKey := createAccountKey(t, in, "auditor", "viewer")
	app := in.CreateApp(t, map[string]any{"name": "billing", "scopes": []string{"read"}})
	second := createSecret(t, in, app.ClientID)
	activeKID := keyListing(t, in).Items[0].KID

	b.signIn(viewerKey)
	pages := []string{"/console/apps", "/console/apps/" + app.ClientID, "/console/keys", "/console/audit"}
	for _, p := range pages {
		if status := b.open(p); status != http.StatusOK {
			t.Fatalf("viewer GET %s: %d", p, status)
		}
		if n := b.count(`main form[method=post], main [data-action], main a[href$="/delete"], main a[href$="/edit"], #new-app, #rotate-key`); n != 0 {
			t.Errorf("viewer sees %d action controls on %s", n, p)
		}
	}
	b.open("/console/apps/" + app.ClientID)
	if n := b.count(`#secrets tbody tr[data-secret-id]`); n != 2 {
		t.Fatalf("viewer sees %d secrets, want 2", n)
	}
	b.screenshot("viewer-app")
	b.open("/console/keys")
	if n := b.count(`#key-timeline g.key-row`); n != 1 {
		t.Fatalf("viewer sees %d keys on the timeline", n)
	}
	b.screenshot("viewer-keys")
	if n := b.count(`nav a[href="/console/token"]`); n != 0 {
		t.Error("viewer sees the token tester in the menu")
	}
	for _, p := range []string{"/console/apps/new", "/console/token", "/console/keys/" + activeKID + "/delete"} {
		if status := b.open(p); status != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", p, status)
		}
	}

	b.open("/console/apps/" + app.ClientID)
	csrf := b.csrfToken()
	before := in.DumpStore(t)
	forged := map[string]map[string]string{
		"/console/apps": {"name": "forged", "environment": "live"},
		"/console/apps/" + app.ClientID + "/disable":                             nil,
		"/console/apps/" + app.ClientID + "/secrets":                             nil,
		"/console/apps/" + app.ClientID + "/secrets/rotate":                      {"grace_period": "0s"},
		"/console/apps/" + app.ClientID + "/secrets/" + second.ID + "/discard":   nil,
		"/console/apps/" + app.ClientID + "/secrets/" + app.SecretID + "/delete": {"confirm": "billing"},
		"/console/keys/rotate":                                                   {"immediate": "1", "acknowledge": "yes"},
		"/console/keys/" + activeKID + "/discard":                                nil,
		"/console/token": {"client_id": app.ClientID, "client_secret": app.ClientSecret},
	}
	for action, fields := range forged {
		all := map[string]string{"csrf": csrf}
		for k, v := range fields {
			all[k] = v
		}
		b.open("/console/apps")
		if status := b.postForm(action, all); status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", action, status)
		}
	}
	assertStoreUnchanged(t, in, before)
	b.screenshot("viewer-forbidden")
}

// redact shows only the shape of a would-be secret in a failure message.
func redact(s string) string {
	if len(s) <= 8 {
		return s
	}
	return s[:8] + "…"
}
