package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

type ctxKey int

const reqInfoKey ctxKey = iota

// reqInfo is per-request state the access log and the metrics read after
// the handler: the request id, the matched route's template and the error
// code a handler answered with.
type reqInfo struct {
	id        string
	route     string
	errorCode string
}

// RequestID returns the request id of ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(reqInfoKey).(*reqInfo); ok {
		return ri.id
	}
	return ""
}

func setErrorCode(r *http.Request, code string) {
	if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
		ri.errorCode = code
	}
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// chain wraps router with, outermost first: request id and
// X-Content-Type-Options: nosniff on every response, access log and
// metrics, panic recovery, the cap on concurrent requests, and the body
// size limit (a declared length over it is refused before any byte is
// read; an undeclared one is cut at the limit). It records each request's
// route template through a mux middleware; call it once every route is
// mounted.
func chain(router *mux.Router, log *slog.Logger, l *listener) http.Handler {
	l.instruments = instrumentsOrNone(l.instruments)
	if l.maxBody <= 0 {
		l.maxBody = defaultMaxBody
	}
	router.Use(stampRoute)
	observers := routeObservers(router, l)
	inner := l.concurrencyCap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > l.maxBody {
			l.writeError(w, r, l.tooLarge.status, l.tooLarge.code, fmt.Sprintf("The request body exceeds %d bytes.", l.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, l.maxBody)
		router.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// One allocation for both: they live exactly as long as the request.
		st := &struct {
			info reqInfo
			sw   statusWriter
		}{info: reqInfo{id: requestID(r)}, sw: statusWriter{ResponseWriter: w}}
		ri, sw := &st.info, &st.sw
		h := w.Header()
		h.Set("X-Request-Id", ri.id)
		// Every answer, fosite's included: a browser must never take a
		// JSON body (which may echo a parameter) for HTML or script.
		h.Set("X-Content-Type-Options", "nosniff")
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri))
		defer func() {
			if p := recover(); p != nil {
				log.Error("handler panic", "request_id", ri.id, "route", ri.route, "panic", p)
				if sw.status == 0 {
					// The listener's error shape, as JSON like every
					// other answer; what went wrong is in the log only.
					l.writeError(sw, r, http.StatusInternalServerError, "server_error", "The server failed to answer the request (request id "+ri.id+").")
				}
			}
			elapsed := time.Since(start)
			observe, ok := observers[ri.route]
			if !ok {
				observe = observers[""]
			}
			observe(sw.status, elapsed, ri.errorCode)
			accessLog(log, r, ri, sw, elapsed)
		}()
		inner.ServeHTTP(sw, r)
	})
}

// accessLog writes the access-log line of a request at info level: the
// line log.Info would write, through the handler directly with typed
// attributes. log.Info would also capture the caller's program counter
// (runtime.Callers, for a source attribute no handler of ours prints) and
// box each value in an interface, allocations on every request
// (test/load/README.md, "Why the hot path is written as it is") for work
// that changes nothing in the line.
func accessLog(log *slog.Logger, r *http.Request, ri *reqInfo, sw *statusWriter, elapsed time.Duration) {
	ctx := context.Background()
	if !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	// Only the path, never the query string or a header: either could
	// carry a credential. See loggablePath for the path.
	rec.AddAttrs(
		slog.String("request_id", ri.id), slog.String("method", r.Method), slog.String("route", ri.route),
		slog.String("path", loggablePath(r.URL.Path)),
		slog.Int("status", sw.status), slog.Int("bytes", sw.bytes), slog.String("error", ri.errorCode),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("remote", r.RemoteAddr))
	_ = log.Handler().Handle(ctx, rec)
}

// requestID keeps a caller's X-Request-Id if it is short and printable,
// else makes one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && printable(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
