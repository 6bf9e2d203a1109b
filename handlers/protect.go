package handlers

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// Instruments is what the HTTP layer reports to (package metrics). Every
// method is called on the request path and must be cheap.
type Instruments interface {
	// RouteObserver is called once per route template at start; the
	// function it returns is called once per response.
	RouteObserver(listener, route string) func(status int, elapsed time.Duration, errorCode string)
	// TokenIssued counts an access token issued through grant, signed
	// with alg.
	TokenIssued(grant, alg string)
	// Shed counts a request refused at the cap on concurrent requests.
	Shed()
}

// noInstruments is the Instruments of a server without metrics.
type noInstruments struct{}

func (noInstruments) RouteObserver(string, string) func(int, time.Duration, string) {
	return func(int, time.Duration, string) {}
}
func (noInstruments) TokenIssued(string, string) {}
func (noInstruments) Shed()                      {}

func instrumentsOrNone(i Instruments) Instruments {
	if i == nil {
		return noInstruments{}
	}
	return i
}

// listener is what chain needs to know about one listener: its name for
// metrics, its limits, and how it shapes an error (RFC 6749 §5.2 on the
// public listener, the admin API's shape on the admin one).
type listener struct {
	name        string
	maxBody     int64
	concurrency int
	instruments Instruments
	// tooLarge is the status and error code of a body whose declared
	// length exceeds maxBody.
	tooLarge struct {
		status int
		code   string
	}
	writeError func(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

// defaultMaxConcurrent is the cap on concurrent requests when none is
// configured.
const defaultMaxConcurrent = 1024

// unlimitedPaths answer even at the cap on concurrent requests: an
// overloaded server is still alive, and still worth scraping.
var unlimitedPaths = map[string]bool{"/healthz": true, "/metrics": true}

// concurrencyCap lets at most n requests run at once; the next one is
// refused at once with 503 and Retry-After rather than queued, so that an
// overload costs the server little and the client learns quickly.
func (l *listener) concurrencyCap(next http.Handler) http.Handler {
	n := l.concurrency
	if n <= 0 {
		n = defaultMaxConcurrent
	}
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unlimitedPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			l.instruments.Shed()
			w.Header().Set("Retry-After", "1")
			l.writeError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "The server is at its limit of concurrent requests; retry later.")
		}
	})
}

// stampRoute is a mux middleware: it records the matched route's template
// for the access log and the metrics, which must never be labelled with a
// raw path.
func stampRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
			if cr := mux.CurrentRoute(r); cr != nil {
				ri.route, _ = cr.GetPathTemplate()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// routeObservers resolves an observer for every route template of router,
// and one for requests that match no route ("unmatched").
func routeObservers(router *mux.Router, l *listener) map[string]func(int, time.Duration, string) {
	obs := map[string]func(int, time.Duration, string){"": l.instruments.RouteObserver(l.name, "unmatched")}
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if tpl, err := route.GetPathTemplate(); err == nil {
			if _, ok := obs[tpl]; !ok {
				obs[tpl] = l.instruments.RouteObserver(l.name, tpl)
			}
		}
		return nil
	})
	return obs
}

// maxLoggedPath bounds the path written to the access log.
const maxLoggedPath = 256

// loggablePath returns p fit for the access log: cut to maxLoggedPath, and
// with every segment that looks like one of our credentials (a secret, an
// account key) or a JWT replaced, since a client may put one anywhere.
func loggablePath(p string) string {
	if len(p) > maxLoggedPath {
		p = p[:maxLoggedPath] + "..."
	}
	if !strings.Contains(p, "sk_") && !strings.Contains(p, "ak_") && !strings.Contains(p, "eyJ") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.Contains(s, "sk_") || strings.Contains(s, "ak_") || strings.Contains(s, "eyJ") {
			segs[i] = "[redacted]"
		}
	}
	return strings.Join(segs, "/")
}

// writeOAuthError writes an error in the RFC 6749 §5.2 shape:
// {"error","error_description"}.
func writeOAuthError(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	setErrorCode(r, code)
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// methodAwareNotFound is the NotFoundHandler of a subrouter: it answers
// notAllowed when some route of router has the request's path (with
// another method), notFound otherwise. gorilla/mux v1.8.1 loses the
// method mismatch when a later route of the subrouter shares its prefix,
// and would answer 404 to DELETE /admin/v1/apps.
func methodAwareNotFound(router *mux.Router, notFound, notAllowed http.HandlerFunc) http.Handler {
	var once sync.Once
	var paths []*regexp.Regexp
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every route is mounted by the time a request arrives.
		once.Do(func() {
			_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
				if _, err := route.GetMethods(); err != nil {
					return nil // a subrouter's prefix, not an endpoint
				}
				if re, err := route.GetPathRegexp(); err == nil {
					paths = append(paths, regexp.MustCompile(re))
				}
				return nil
			})
		})
		for _, re := range paths {
			if re.MatchString(r.URL.Path) {
				notAllowed(w, r)
				return
			}
		}
		notFound(w, r)
	})
}
