// Package httpform reads application/x-www-form-urlencoded request bodies
// strictly: every byte decodes, or the request is refused whole. The form
// endpoints of the OAuth surface and the console's forms read theirs
// through it before anything else looks at the request.
package httpform

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// ContentType is the only media type Read takes (RFC 6749 §3.2, RFC 7662
// §2.1, RFC 7009 §2.1, and the HTML standard's default form encoding).
const ContentType = "application/x-www-form-urlencoded"

// Malformed starts the description of a body that does not decode.
const Malformed = "malformed application/x-www-form-urlencoded body"

// MaxBody is the largest body Read reads, in bytes: net/http's own bound
// for ParseForm (10 MiB). A caller with a tighter bound sets it with
// http.MaxBytesReader.
const MaxBody = 10 << 20

const tooLarge = "The request body is too large."

// Error is a body Read refuses. Description says what is wrong with it,
// never its bytes (a malformed parameter may be a secret), in a sentence
// fit for an OAuth error_description.
type Error struct {
	Description string
}

func (e *Error) Error() string { return e.Description }

// Read reads r's body as a form, strictly. The media type must be
// ContentType and every byte of the body must decode; otherwise Read
// returns what is wrong (a *Error, never another error; nil on success)
// and r's forms are left unset. On success r.PostForm
// holds the body's parameters and r.Form those and the query's, so that
// a later ParseForm or ParseMultipartForm (fosite calls the latter)
// parses nothing again.
//
// It exists because net/http's ParseForm skips a pair it cannot decode
// and reports the error, and ParseMultipartForm drops that error for a
// body that is not multipart: scope=read%zz would reach a token grant as
// a request with no scope at all, that is for every scope of the client.
// The query string is not a parameter source of any form endpoint, so a
// malformed one is not refused; what of it decodes is in r.Form as
// ParseForm would put it. A body over MaxBody or an http.MaxBytesReader's
// limit is an *Error too.
func Read(r *http.Request) *Error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentType {
		return &Error{"The body must be application/x-www-form-urlencoded."}
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, MaxBody+1)); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return &Error{tooLarge}
			}
			return &Error{"The request body could not be read."}
		}
		if len(body) > MaxBody {
			return &Error{tooLarge}
		}
	}
	post, err := url.ParseQuery(string(body))
	if err != nil {
		// url.ParseQuery fails on a bad escape (url.EscapeError) or on a
		// ';', which the HTML standard's form encoding never leaves bare.
		var escape url.EscapeError
		switch {
		case errors.As(err, &escape):
			return &Error{Malformed + ": a '%' must be followed by two hexadecimal digits."}
		case bytes.IndexByte(body, ';') >= 0:
			return &Error{Malformed + ": ';' is not a parameter separator (encode it as %3B)."}
		default:
			return &Error{Malformed + "."}
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
	return nil
}
