package handlers

import (
	"net"
	"net/url"
)

// Names of the cookie of /customer_authenticate's cookie mode. A Secure
// cookie takes the __Host- prefix (RFC 6265bis §4.1.3.2): the browser then
// insists on Secure, Path=/ and no Domain, so no sibling host can set or
// shadow it.
const (
	UserTokenCookieSecure   = "__Host-authserver_token"
	UserTokenCookieInsecure = "authserver_token"
)

// CookieSecure reports whether cookies of a server at issuer are Secure:
// always, unless the issuer is plain http on a loopback host (a developer
// machine or a test, where browsers treat http://localhost as secure
// anyway).
func CookieSecure(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "http" {
		return true
	}
	h := u.Hostname()
	if h == "localhost" {
		return false
	}
	ip := net.ParseIP(h)
	return ip == nil || !ip.IsLoopback()
}

// UserTokenCookie returns the cookie name for a server at issuer.
func UserTokenCookie(issuer string) string {
	if CookieSecure(issuer) {
		return UserTokenCookieSecure
	}
	return UserTokenCookieInsecure
}
