package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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
// be application/json, within the body limit, and pass unmarshalJSON. It
// writes the error itself and reports false on failure.
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
	if err := unmarshalJSON(body, v); err != nil {
		writeAdminError(w, r, http.StatusBadRequest, "invalid_json", "the body is not a valid JSON object of the expected shape: "+jsonProblem(err))
		return false
	}
	return true
}

// unmarshalJSON decodes body, exactly one JSON object, into v, as strictly
// as the admin API's OpenAPI document reads it: a member name matches a
// field only when spelt exactly as its json tag (encoding/json would take
// "Name" or "audiencEs"); an unknown or repeated member is an error, and so
// are invalid UTF-8, anything after the object, and null where the field
// holds a string or a boolean (null is for lists and objects that say
// "none").
func unmarshalJSON(body []byte, v any) error {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		return errNotObject
	}
	return jsonv2.Unmarshal(body, v, strictJSON)
}

var (
	errNotObject = errors.New("the body is not a JSON object")
	errNull      = errors.New("null is not allowed here")

	strictJSON = jsonv2.JoinOptions(
		jsonv2.RejectUnknownMembers(true),
		jsonv2.WithUnmarshalers(jsonv2.JoinUnmarshalers(
			refuseNull[string](), refuseNull[bool](),
			// A pointer field (an optional member of an update) is
			// nil when absent; null would otherwise also make it nil.
			refuseNull[*string](), refuseNull[*bool](),
		)),
	)
)

// refuseNull is an unmarshaler for T that refuses JSON null and leaves
// every other value to the default unmarshaling.
func refuseNull[T any]() *jsonv2.Unmarshalers {
	return jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, _ *T) error {
		if dec.PeekKind() == 'n' {
			return errNull
		}
		return errors.ErrUnsupported
	})
}

// jsonProblem describes a decoding error without echoing input values:
// where it is (a byte offset or a JSON pointer, RFC 6901) and what is
// wrong there.
func jsonProblem(err error) string {
	var semantic *jsonv2.SemanticError
	var syntactic *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	case errors.As(err, &semantic) && errors.Is(semantic.Err, errNull):
		return fmt.Sprintf("field %s may not be null", quoteMember(string(semantic.JSONPointer)))
	case errors.As(err, &semantic) && errors.Is(semantic.Err, jsonv2.ErrUnknownName):
		return fmt.Sprintf("unknown field %s", quoteMember(semantic.JSONPointer.LastToken()))
	case errors.As(err, &semantic) && semantic.GoType != nil:
		return fmt.Sprintf("field %s must be %s", quoteMember(string(semantic.JSONPointer)), kindOf(semantic.GoType))
	case errors.As(err, &syntactic) && errors.Is(syntactic.Err, jsontext.ErrDuplicateName):
		return fmt.Sprintf("field %s appears twice", quoteMember(syntactic.JSONPointer.LastToken()))
	case errors.As(err, &syntactic):
		return fmt.Sprintf("syntax error at byte %d", syntactic.ByteOffset)
	default: // errNotObject, or what the library may add
		return "not a JSON object"
	}
}

// quoteMember quotes a member name or pointer from the request, cut to
// 64 bytes so that an error answer never grows with the attacker's input.
func quoteMember(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = strings.ToValidUTF8(s[:maxLen], "") + "…"
	}
	return strconv.Quote(s)
}

// kindOf names the JSON shape a Go type reads: what a client must send.
func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	default:
		return "an object"
	}
}
