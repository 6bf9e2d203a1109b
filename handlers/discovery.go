package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authserver/authserver/authserver/tokens"
)

// jwksHandler serves the JWKS (RFC 7517 §5) with a strong ETag, answering
// 304 Not Modified to a matching If-None-Match. The body is rendered once
// per key-set change by the key manager, not per request.
func jwksHandler(keys KeySource, maxAge time.Duration) http.Handler {
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	cacheControl := "public, max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, etag := keys.JWKS()
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", cacheControl)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// etagMatches implements If-None-Match (RFC 9110 §13.1.2): "*" or any listed
// tag, weakly compared.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// metadataHandler serves the RFC 8414 metadata, rendered once.
func metadataHandler(m tokens.Metadata) http.Handler {
	body, err := json.Marshal(m)
	if err != nil {
		panic("render metadata: " + err.Error()) // a fixed struct of strings always marshals
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}
