package testserver

import (
	"testing"

	"github.com/authserver/authserver/authserver/credential"
)

// The log check recognises every credential the server issues, and not
// the ids and masked forms that logs and audit events may carry.
func TestCredentialShapes(t *testing.T) {
	for name, s := range map[string]string{
		"live secret": credential.NewSecret(credential.EnvLive),
		"test secret": credential.NewSecret(credential.EnvTest),
		"account key": credential.NewAccountKey(),
		"JWT":         "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHAifQ.c2lnbmF0dXJl",
	} {
		if !credentialShapes.MatchString(`level=INFO msg=x value=` + s + ` other=1`) {
			t.Errorf("%s %.6s… is not recognised", name, s)
		}
	}
	for _, s := range []string{
		"sk_live_…abcd", "app_live_1XGjMOT9nMvDtsUhHcrn1j", "sec_0wz0jmaEiQSimo3UH", "acck_00000000000000000",
		`path=/admin/v1/apps/app_test_0000000000000000000000/secrets`,
	} {
		if credentialShapes.MatchString(s) {
			t.Errorf("%q is taken for a credential", s)
		}
	}
}
