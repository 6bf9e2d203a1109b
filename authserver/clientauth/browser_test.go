package clientauth

import (
	"net/http"
	"testing"
)

// Header sets of real HTTP clients sending a form POST with a client
// credential, as a server sees them (Go's canonical header names). Where
// a set was captured, the comment says from what; where it could not be
// (no Safari on Linux), it says what it follows. Transport headers
// (Connection, Content-Length, Accept-Encoding, Priority) are left out
// where they carry nothing a browser test could use.

// chrome is what Chromium 156 (Debian's, headless) sent from a page to a
// loopback server: fetch and XMLHttpRequest have mode cors and dest empty,
// a form post mode navigate and dest document; Origin on every POST.
func chrome(origin, site, mode, dest string) http.Header {
	h := http.Header{
		"Accept":             {"*/*"},
		"Accept-Language":    {"en-US,en;q=0.9"},
		"Authorization":      {"Basic YTpi"},
		"Content-Type":       {"application/x-www-form-urlencoded"},
		"Origin":             {origin},
		"Referer":            {origin + "/"},
		"Sec-Ch-Ua":          {`"Not:A-Brand";v="8", "Chromium";v="156"`},
		"Sec-Ch-Ua-Mobile":   {"?0"},
		"Sec-Ch-Ua-Platform": {`"Linux"`},
		"Sec-Fetch-Dest":     {dest},
		"Sec-Fetch-Mode":     {mode},
		"Sec-Fetch-Site":     {site},
		"User-Agent":         {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"},
	}
	if mode == "navigate" {
		h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
		h.Set("Cache-Control", "max-age=0")
		h.Set("Upgrade-Insecure-Requests", "1")
	}
	return h
}

// firefox is what Firefox 153 ESR (Debian's, headless) sent in the same
// setting.
func firefox(origin, site, mode, dest string) http.Header {
	h := http.Header{
		"Accept":          {"*/*"},
		"Accept-Language": {"en-US,en;q=0.9"},
		"Authorization":   {"Basic YTpi"},
		"Content-Type":    {"application/x-www-form-urlencoded"},
		"Origin":          {origin},
		"Referer":         {origin + "/"},
		"Sec-Fetch-Dest":  {dest},
		"Sec-Fetch-Mode":  {mode},
		"Sec-Fetch-Site":  {site},
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"},
	}
	if mode == "navigate" {
		h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		h.Set("Upgrade-Insecure-Requests", "1")
	}
	return h
}

// safari follows WebKit, not a capture: Safari 16.4 and later send
// Sec-Fetch-Site, -Mode and -Dest (not -User), and Origin on every POST
// as the Fetch standard says; site "" stands for an older Safari, which
// sends no Fetch Metadata.
func safari(origin, site, mode, dest string) http.Header {
	h := http.Header{
		"Accept":          {"*/*"},
		"Accept-Language": {"en-GB,en;q=0.9"},
		"Authorization":   {"Basic YTpi"},
		"Content-Type":    {"application/x-www-form-urlencoded"},
		"Origin":          {origin},
		"Referer":         {origin + "/"},
		"User-Agent":      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"},
	}
	if site != "" {
		h.Set("Sec-Fetch-Site", site)
		h.Set("Sec-Fetch-Mode", mode)
		h.Set("Sec-Fetch-Dest", dest)
	}
	if mode == "navigate" {
		h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	}
	return h
}

// without returns h less the named headers.
func without(h http.Header, names ...string) http.Header {
	h = h.Clone()
	for _, n := range names {
		h.Del(n)
	}
	return h
}

// serverSideClients are HTTP clients that run on servers: an app
// credential from them is accepted.
var serverSideClients = []struct {
	name   string
	header http.Header
}{
	// Node's built-in fetch is undici, which adds Accept, Accept-Language
	// "*", User-Agent and Sec-Fetch-Mode (its request's mode, "cors" by
	// default; no other Fetch Metadata) and no Origin, since a Node
	// process has no origin (lib/web/fetch/util.js,
	// appendRequestOriginHeader and appendFetchMetadata). Node 20: captured
	// from Node 20.20 (undici 6.24). Node 18 (undici 5.28) and Node 24
	// (undici 7.16): captured from those undici packages, whose User-Agent
	// is "undici" where Node's bundled build says "node". Node 22 bundles
	// undici 6 like Node 20.
	{"Node 18 fetch", http.Header{"Accept": {"*/*"}, "Accept-Language": {"*"}, "Accept-Encoding": {"gzip, deflate"},
		"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Mode": {"cors"}, "User-Agent": {"node"}}},
	{"Node 20 fetch", http.Header{"Accept": {"*/*"}, "Accept-Language": {"*"}, "Accept-Encoding": {"gzip, deflate"},
		"Authorization": {"Basic YTpi"}, "Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Mode": {"cors"}, "User-Agent": {"node"}}},
	{"Node 22 fetch", http.Header{"Accept": {"*/*"}, "Accept-Language": {"*"}, "Accept-Encoding": {"br, gzip, deflate"},
		"Authorization": {"Basic YTpi"}, "Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Mode": {"cors"}, "User-Agent": {"node"}}},
	{"Node 24 fetch", http.Header{"Accept": {"*/*"}, "Accept-Language": {"*"}, "Accept-Encoding": {"gzip, deflate"},
		"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Mode": {"cors"}, "User-Agent": {"undici"}}},
	// Deno 2.9.6, captured.
	{"Deno fetch", http.Header{"Accept": {"*/*"}, "Accept-Encoding": {"gzip,br"}, "Accept-Language": {"*"},
		"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Deno/2.9.6"}}},
	// Bun 1.4.5, captured.
	{"Bun fetch", http.Header{"Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate, br, zstd"},
		"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Bun/1.4.5"}}},
	// workerd 1.20261117 (the Workers runtime), captured: a subrequest
	// carries only what the script set. On Cloudflare's network it also
	// gets CF-Worker, naming the zone (Cloudflare's documentation).
	{"Cloudflare Workers fetch", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Cf-Worker": {"example.com"}}},
	// Python requests 2.34 and httpx 0.23 (Debian's), captured.
	{"Python requests", http.Header{"Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate"},
		"Authorization": {"Basic YTpi"}, "Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"python-requests/2.34.2"}}},
	{"Python httpx", http.Header{"Accept": {"*/*"}, "Accept-Encoding": {"gzip, deflate"},
		"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"python-httpx/0.23.3"}}},
	// Go 1.26 net/http (http.PostForm), captured.
	{"Go net/http", http.Header{"Accept-Encoding": {"gzip"}, "Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Go-http-client/1.1"}}},
	// Java 17 java.net.http.HttpClient, captured (it offers h2c).
	{"Java HttpClient", http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Http2-Settings": {"AAEAAEAAAAIAAAAAAAMAAAAAAAQBAAAAAAUAAEAAAAYABgAA"},
		"Upgrade": {"h2c"}, "Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Java-http-client/17.0.15"}}},
	// curl 7.88 (curl -d), captured.
	{"curl", http.Header{"Accept": {"*/*"}, "Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"curl/7.88.1"}}},
	// A server-side client that claims to be a browser by its User-Agent
	// alone is still a server-side client: the User-Agent decides nothing.
	{"script with a browser User-Agent", http.Header{"Accept": {"*/*"}, "Content-Type": {"application/x-www-form-urlencoded"},
		"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"}}},
}

// browserRequests are requests a browser sends: an app credential in any
// of them is refused. Cross-site: a page on another site (captured from
// http://localhost:18990 to http://127.0.0.1:18999); same-site: another
// origin of the same site (port 18990 to 18999 on 127.0.0.1); same-origin:
// a page of the server itself.
var browserRequests = []struct {
	name   string
	header http.Header
}{
	{"Chrome fetch, cross-site", chrome("http://localhost:18990", "cross-site", "cors", "empty")},
	{"Chrome XHR, cross-site", without(chrome("http://localhost:18990", "cross-site", "cors", "empty"), "Authorization")},
	{"Chrome form post, cross-site", without(chrome("http://localhost:18990", "cross-site", "navigate", "document"), "Authorization")},
	{"Chrome fetch, same-site", chrome("http://127.0.0.1:18990", "same-site", "cors", "empty")},
	{"Chrome XHR, same-site", without(chrome("http://127.0.0.1:18990", "same-site", "cors", "empty"), "Authorization")},
	{"Chrome form post, same-site", without(chrome("http://127.0.0.1:18990", "same-site", "navigate", "document"), "Authorization")},
	{"Chrome fetch, same-origin", chrome("http://127.0.0.1:18999", "same-origin", "cors", "empty")},
	{"Chrome form post, same-origin", without(chrome("http://127.0.0.1:18999", "same-origin", "navigate", "document"), "Authorization")},
	// Chromium to a plain-http host that is not potentially trustworthy
	// (http://authserver.test mapped to loopback), captured: no Fetch
	// Metadata at all, Origin still.
	{"Chrome fetch over plain http", without(chrome("http://page.test:18990", "", "", ""), "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest")},
	{"Chrome form post over plain http", without(chrome("http://page.test:18990", "", "navigate", ""), "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Authorization")},
	// A form post from a page whose referrer policy is no-referrer, or
	// from a sandboxed frame: the Fetch standard serialises its Origin as
	// "null".
	{"Chrome form post with Origin null", without(chrome("null", "cross-site", "navigate", "document"), "Authorization", "Referer")},
	{"Firefox fetch, cross-site", firefox("http://localhost:18990", "cross-site", "cors", "empty")},
	{"Firefox XHR, cross-site", without(firefox("http://localhost:18990", "cross-site", "cors", "empty"), "Authorization")},
	{"Firefox form post, cross-site", without(firefox("http://localhost:18990", "cross-site", "navigate", "document"), "Authorization")},
	{"Firefox fetch, same-site", firefox("http://127.0.0.1:18990", "same-site", "cors", "empty")},
	{"Firefox XHR, same-site", without(firefox("http://127.0.0.1:18990", "same-site", "cors", "empty"), "Authorization")},
	{"Firefox form post, same-site", without(firefox("http://127.0.0.1:18990", "same-site", "navigate", "document"), "Authorization")},
	{"Firefox fetch, same-origin", firefox("http://127.0.0.1:18999", "same-origin", "cors", "empty")},
	{"Firefox form post, same-origin", without(firefox("http://127.0.0.1:18999", "same-origin", "navigate", "document"), "Authorization")},
	{"Safari fetch, cross-site", safari("https://shop.example", "cross-site", "cors", "empty")},
	{"Safari XHR, same-site", without(safari("https://www.shop.example", "same-site", "cors", "empty"), "Authorization")},
	{"Safari form post, cross-site", without(safari("https://shop.example", "cross-site", "navigate", "document"), "Authorization")},
	{"Safari form post, same-origin", without(safari("https://auth.shop.example", "same-origin", "navigate", "document"), "Authorization")},
	{"Safari 15 fetch (no Fetch Metadata)", safari("https://shop.example", "", "", "")},
	// Fetch Metadata without Origin: a browser's GET, or any request a
	// proxy stripped Origin from, still shows Sec-Fetch-Site.
	{"Fetch Metadata without Origin", without(chrome("https://shop.example", "same-origin", "cors", "empty"), "Origin")},
}

// TestFromBrowser holds fromBrowser to real header sets: every server-side
// client's request is accepted, Node's fetch with its Sec-Fetch-Mode
// included; every browser's is refused.
func TestFromBrowser(t *testing.T) {
	for _, tc := range serverSideClients {
		t.Run("server-side/"+tc.name, func(t *testing.T) {
			r := &http.Request{Method: http.MethodPost, Header: tc.header}
			if fromBrowser(r) {
				t.Fatalf("taken for a browser: %v", tc.header)
			}
		})
	}
	for _, tc := range browserRequests {
		t.Run("browser/"+tc.name, func(t *testing.T) {
			r := &http.Request{Method: http.MethodPost, Header: tc.header}
			if !fromBrowser(r) {
				t.Fatalf("not taken for a browser: %v", tc.header)
			}
		})
	}
}
