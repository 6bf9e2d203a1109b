package handlers

import (
	"net/http"

	"github.com/authserver/authserver/httpform"
)

// readForm reads the body of a form endpoint's request strictly
// (httpform.Read), before anything else looks at the request. A body
// that is not a well-formed application/x-www-form-urlencoded one is
// answered with 400 invalid_request (RFC 6749 §5.2) naming the problem,
// and readForm reports false.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if bad := httpform.Read(r); bad != nil {
		writeOAuthError(w, r, http.StatusBadRequest, "invalid_request", bad.Description)
		return false
	}
	return true
}
