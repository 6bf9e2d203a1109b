package console

import (
	"net/http"
	"strings"

	"github.com/authserver/authserver/authserver"
)

// signInData is the data of signin.html.
type signInData struct {
	Token string
	// Next is the console page to show after sign-in.
	Next  string
	Error string
	// NeedsHTTPS: the cookie is Secure but this request came over plain
	// http, so the browser would drop it.
	NeedsHTTPS bool
}

// signInPage shows the sign-in form, with a fresh double-submit token in
// a short-lived cookie (there is no session yet to hold one).
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, _, _, ok := c.session(r); ok {
		http.Redirect(w, r, "/console/apps", http.StatusSeeOther)
		return
	}
	c.showSignIn(w, r, http.StatusOK, "")
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	// Several sign-in tabs share one token, so that the one opened first
	// still works.
	token := randomToken()
	if ck, err := r.Cookie(c.signInCookieName()); err == nil && len(ck.Value) == len(token) {
		token = ck.Value
	}
	c.setCookie(w, c.signInCookieName(), token, 3600)
	var notice *flash
	if r.URL.Query().Get("signed_out") != "" && msg == "" {
		notice = &flash{Kind: "ok", Text: "You are signed out."}
	}
	c.render(w, status, "signin", view{Title: "Sign in", Flash: notice, Data: signInData{
		Token: token, Error: msg, Next: nextPage(r.FormValue("next")),
		NeedsHTTPS: c.o.SecureCookie && r.TLS == nil && r.Header.Get("X-Forwarded-Proto") != "https",
	}})
}

// signIn checks an account key (docs/credentials.md, "Scopes of a
// credential": account-scoped credentials) and
// starts a session that records the key's id and role, never the key.
// A wrong key is counted in the audit log as the admin API counts one;
// the answer does not say what was wrong with it.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := checkSameOrigin(r); err != nil {
		c.plainForbidden(w, r, "This form was not sent from the console's own pages.")
		return
	}
	if msg := formError(r); msg != "" {
		c.plainBadRequest(w, msg)
		return
	}
	ck, err := r.Cookie(c.signInCookieName())
	if err != nil || !tokenEqual(r.PostFormValue("csrf"), ck.Value) {
		c.plainForbidden(w, r, "The sign-in form's security token is missing or out of date: reload the page (cookies must be enabled).")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("account_key"))
	actor, err := c.o.Accounts.Authenticate(key)
	if err != nil {
		c.o.Audit.Fail(authserver.Actor{ID: authserver.ActorAnonymous.ID, Source: clientHost(r.RemoteAddr)}, "admin.authenticate", "console", "", "unauthenticated")
		c.showSignIn(w, r, http.StatusUnauthorized, "That account key is not valid.")
		return
	}
	actor.Source = clientHost(r.RemoteAddr)
	if old, err := r.Cookie(c.cookieName()); err == nil {
		c.sessions.delete(old.Value) // one browser, one session
	}
	id, _ := c.sessions.create(actor)
	c.setCookie(w, c.signInCookieName(), "", -1)
	c.setCookie(w, c.cookieName(), id, int(c.o.Lifetime.Seconds()))
	c.o.Audit.Record(r.Context(), actor, "console.signin", actor.ID, "", "success", nil)
	http.Redirect(w, r, nextPage(r.PostFormValue("next")), http.StatusSeeOther)
}

// nextPage is where sign-in leads: the console page the operator asked
// for before signing in, if next names one, else the apps. Only a path
// under /console/ is followed, never another site ("//host", "/\host").
func nextPage(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "/console/signin") {
		return "/console/apps"
	}
	return next
}

// signOut ends the session on the server and clears the cookie.
func (c *Console) signOut(q *request) {
	c.sessions.delete(q.sid)
	c.setCookie(q.w, c.cookieName(), "", -1)
	c.o.Audit.Record(q.r.Context(), q.actor, "console.signout", q.actor.ID, "", "success", nil)
	http.Redirect(q.w, q.r, "/console/signin?signed_out=1", http.StatusSeeOther)
}
