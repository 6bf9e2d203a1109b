package handlers

import (
	"net/http"

	"github.com/authserver/authserver/adminapi"
)

// openAPIDocument answers GET /admin/v1/openapi.json: the admin API's
// OpenAPI 3.1 document (adminapi), without an account key, since it
// describes the API and holds nothing of the account.
func openAPIDocument() http.Handler {
	doc := adminapi.Document()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBody(w, http.StatusOK, doc[:len(doc)-1]) // writeJSONBody adds the newline
	})
}
