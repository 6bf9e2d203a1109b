package handlers

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// formContentType is the only body the form endpoints take (RFC 6749
// §3.2, RFC 7662 §2.1, RFC 7009 §2.1).
const formContentType = "application/x-www-form-urlencoded"

// errNotForm is the description of a body of another media type.
const errNotForm = "The body must be application/x-www-form-urlencoded."

// malformedForm starts the description of a body that does not decode.
const malformedForm = "malformed application/x-www-form-urlencoded body"

// readForm reads the body of a form endpoint's request, strictly, before
// anything else looks at the request: the media type must be
// application/x-www-form-urlencoded, and every byte of the body must
// decode, or the request is answered with 400 invalid_request (RFC 6749
// §5.2) and readForm reports false. On success r.PostForm holds the body's
// parameters and r.Form those and the query's, so that fosite's own
// ParseMultipartForm parses nothing again.
//
// It exists because net/http's ParseForm skips a pair it cannot decode
// and reports the error, and ParseMultipartForm, which fosite calls,
// drops that error for a body that is not multipart: scope=read%zz would
// reach the grant as a request with no scope at all, that is for every
// scope of the client. The query string is not a parameter source of any
// form endpoint, so a malformed one is not refused; what of it decodes is
// in r.Form as ParseForm would put it.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != formContentType {
		writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", errNotForm)
		return false
	}
	if desc := parseFormBody(r); desc != "" {
		writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", desc)
		return false
	}
	return true
}

// parseFormBody fills r.PostForm and r.Form from r's body and query, and
// returns "" or the error_description of a body that cannot be read or
// decoded. The description names the problem, never the bytes: a
// malformed parameter may be a secret.
func parseFormBody(r *http.Request) string {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return "The request body is too large."
			}
			return "The request body could not be read."
		}
	}
	post, err := url.ParseQuery(string(body))
	if err != nil {
		// url.ParseQuery fails on a bad escape (url.EscapeError) or on a
		// ';', which the HTML standard's form encoding never leaves bare.
		var escape url.EscapeError
		switch {
		case errors.As(err, &escape):
			return malformedForm + ": a '%' must be followed by two hexadecimal digits."
		case bytes.IndexByte(body, ';') >= 0:
			return malformedForm + ": ';' is not a parameter separator (encode it as %3B)."
		default:
			return malformedForm + "."
		}
	}
	// What ParseForm makes of the query: the body's values first.
	form := make(url.Values, len(post))
	for k, v := range post {
		form[k] = append([]string(nil), v...)
	}
	if r.URL != nil {
		query, _ := url.ParseQuery(r.URL.RawQuery)
		for k, v := range query {
			form[k] = append(form[k], v...)
		}
	}
	r.PostForm, r.Form = post, form
	return ""
}
