package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/authserver/authserver/authserver"
)

// adminError is the one error shape of the admin API:
// {"error":{"code":"...","message":"..."}}. code is machine-readable.
type adminError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"server_error","message":"response encoding failed"}}`, http.StatusInternalServerError)
		return
	}
	writeJSONBody(w, status, body)
}

// writeJSONBody writes body, a JSON value already encoded, as writeJSON
// does: for handlers that encode without reflection.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeNoContent answers 204, uncached like every admin answer.
func writeNoContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func writeAdminError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	setErrorCode(r, code)
	var e adminError
	e.Error.Code, e.Error.Message = code, message
	writeJSON(w, status, e)
}

// writeDomainError maps a domain error to its status; anything else is a 500
// whose detail stays in the log.
func writeDomainError(w http.ResponseWriter, r *http.Request, err error) {
	e := authserver.AsError(err)
	if e == nil {
		writeAdminError(w, r, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	status := map[authserver.ErrorKind]int{
		authserver.KindInvalid:         http.StatusBadRequest,
		authserver.KindNotFound:        http.StatusNotFound,
		authserver.KindConflict:        http.StatusConflict,
		authserver.KindForbidden:       http.StatusForbidden,
		authserver.KindUnauthenticated: http.StatusUnauthorized,
		authserver.KindUnavailable:     http.StatusServiceUnavailable,
	}[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeAdminError(w, r, status, e.Code, e.Message)
}

// decodeJSON reads exactly one JSON object of the request into v: it must
// be application/json, within the body limit, with no unknown fields and
// nothing after it. It writes the error itself and reports false on
// failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeAdminError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		return false
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeAdminError(w, r, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", tooBig.Limit))
		return false
	}
	if err != nil {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_body", "the body could not be read")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_json", "the body is not a valid JSON object of the expected shape: "+jsonProblem(err))
		return false
	}
	if dec.More() {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_json", "the body must hold exactly one JSON object")
		return false
	}
	return true
}

// jsonProblem describes a decoding error without echoing input values.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("syntax error at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	default:
		// "json: unknown field \"x\"" names only the field.
		return err.Error()
	}
}
