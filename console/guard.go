package console

import (
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/authserver/authserver/authserver"
	"github.com/authserver/authserver/authserver/accounts"
)

// contentSecurityPolicy allows the console's own script and stylesheet
// and nothing else: no inline script or style, no framing, no external
// request of any kind. connect-src 'self' is there only for same-origin
// fetches (the console itself makes none).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers of every console response. Pages are
// never cached: one may hold a secret shown once.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// cookieName is the session cookie's name: with Secure, the __Host-
// prefix makes browsers refuse it unless it is Secure, host-only and
// Path=/.
func (c *Console) cookieName() string {
	if c.o.SecureCookie {
		return "__Host-authserver_console"
	}
	return "authserver_console"
}

// signInCookieName holds the sign-in form's CSRF token (double submit):
// there is no session yet to hold it.
func (c *Console) signInCookieName() string {
	if c.o.SecureCookie {
		return "__Host-authserver_console_signin"
	}
	return "authserver_console_signin"
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.o.SecureCookie, SameSite: http.SameSiteStrictMode,
	})
}

// errCrossOrigin is why a form post was refused before anything else.
var errCrossOrigin = errors.New("the form was not posted from this console")

// checkSameOrigin refuses a form post that a browser says came from
// another site. Sec-Fetch-Site (sent by every current browser) must be
// same-origin; an Origin, when it names one, must be this host; with
// neither, the Referer must be this host. The Origin may be "null": with
// Referrer-Policy no-referrer, browsers send "Origin: null" on same-origin
// form posts, which is why Sec-Fetch-Site is asked first. Scheme is not
// compared: a TLS-terminating proxy may stand in front.
func checkSameOrigin(r *http.Request) error {
	sameHost := func(raw string) bool {
		u, err := url.Parse(raw)
		return err == nil && u.Host != "" && u.Host == r.Host && (u.Scheme == "http" || u.Scheme == "https")
	}
	origin := r.Header.Get("Origin")
	if origin != "" && origin != "null" && !sameHost(origin) {
		return errCrossOrigin
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		if site != "same-origin" {
			return errCrossOrigin
		}
		return nil
	}
	if origin != "" && origin != "null" {
		return nil // checked above
	}
	if ref := r.Header.Get("Referer"); ref != "" && sameHost(ref) {
		return nil
	}
	return errCrossOrigin
}

// request is one console request of a signed-in operator.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	sid   string
	sess  session
	actor authserver.Actor
}

// session returns the live session of r: the cookie names one that has
// not expired and whose account key still exists (its current role
// replaces the one recorded at sign-in). A session whose key is gone is
// ended.
func (c *Console) session(r *http.Request) (string, session, authserver.Actor, bool) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil {
		return "", session{}, authserver.Actor{}, false
	}
	s, ok := c.sessions.get(ck.Value)
	if !ok {
		return "", session{}, authserver.Actor{}, false
	}
	actor, ok := c.o.Accounts.LookupKey(s.keyID)
	if !ok {
		c.sessions.delete(ck.Value)
		return "", session{}, authserver.Actor{}, false
	}
	if actor.Role != s.role {
		c.sessions.setRole(ck.Value, actor.Role)
		s.role = actor.Role
	}
	actor.Source = clientHost(r.RemoteAddr)
	return ck.Value, s, actor, true
}

// page serves a GET to a signed-in operator whose role allows role;
// anyone else is sent to the sign-in page, or refused with 403.
func (c *Console) page(role string, h func(*request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid, s, actor, ok := c.session(r)
		if !ok {
			http.Redirect(w, r, "/console/signin?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
			return
		}
		q := &request{w: w, r: r, sid: sid, sess: s, actor: actor}
		if !accounts.RoleAllows(actor.Role, role) {
			c.forbidden(q, "Your account key's role ("+actor.Role+") does not allow this page.")
			return
		}
		h(q)
	})
}

// action serves a form POST: from this console (checkSameOrigin), by a
// signed-in operator, with a body that decodes whole (formError: else
// 400), carrying the session's CSRF token, whose role allows role. Each
// other refusal is 403; no refusal changes anything, and a role refusal
// is counted in the audit log like the admin API's.
func (c *Console) action(role string, h func(*request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkSameOrigin(r); err != nil {
			c.plainForbidden(w, r, "This form was not sent from the console's own pages.")
			return
		}
		sid, s, actor, ok := c.session(r)
		if !ok {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		q := &request{w: w, r: r, sid: sid, sess: s, actor: actor}
		if msg := formError(r); msg != "" {
			c.badRequest(q, msg)
			return
		}
		if !tokenEqual(r.PostFormValue("csrf"), s.csrf) {
			c.forbidden(q, "The form's security token is missing or out of date. Reload the page and try again.")
			return
		}
		if !accounts.RoleAllows(actor.Role, role) {
			c.o.Audit.Fail(actor, "admin.request", r.Pattern, r.PathValue("id"), "forbidden")
			c.forbidden(q, "Your account key's role ("+actor.Role+") does not allow this action.")
			return
		}
		h(q)
	})
}

// clientHost is the host of a host:port remote address.
func clientHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
