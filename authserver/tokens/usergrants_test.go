package tokens

import (
	"strings"
	"testing"

	"github.com/authserver/authserver/authserver/clients"
)

func TestInferCustomerGrant(t *testing.T) {
	for params, want := range map[string]string{
		"assertion":            clients.GrantTypeJWTBearer,
		"assertion username":   clients.GrantTypeJWTBearer,
		"username password":    GrantTypeTestUser,
		"customer_id":          GrantTypeDelegated,
		"client_id scope":      "",
		"username customer_id": GrantTypeTestUser,
	} {
		has := func(p string) bool { return strings.Contains(" "+params+" ", " "+p+" ") }
		if got := InferCustomerGrant(has); got != want {
			t.Errorf("%q: %q, want %q", params, got, want)
		}
	}
}
