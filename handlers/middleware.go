package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

type ctxKey int

const reqInfoKey ctxKey = iota

// reqInfo is per-request state the access log reads after the handler:
// the request id and the error code a handler answered with.
type reqInfo struct {
	id        string
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

// chain wraps h with, outermost first: request id, access log, panic
// recovery and the body size limit.
func chain(h http.Handler, log *slog.Logger, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: requestID(r)}
		w.Header().Set("X-Request-Id", ri.id)
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				log.Error("handler panic", "request_id", ri.id, "path", r.URL.Path, "panic", p)
				if sw.status == 0 {
					http.Error(sw, `{"error":"server_error"}`, http.StatusInternalServerError)
				}
			}
			// Only the path: a query string could carry a credential.
			log.Info("request",
				"request_id", ri.id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "error", ri.errorCode,
				"duration_ms", float64(time.Since(start).Microseconds())/1000,
				"remote", r.RemoteAddr)
		}()
		r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
		h.ServeHTTP(sw, r)
	})
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
