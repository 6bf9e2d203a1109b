package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
)

// show turns each kind of answer into the output or error an operator
// sees: a 2xx body decoded (or printed as it came with -o json), the
// admin API's error, another server's error page, and a body that is not
// the JSON the document promises.
func TestShowAnswers(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		output      string
		wantOut     string
		wantErr     string
		unexpected  bool
	}{
		{"decoded", 200, "application/json", `{"active":true,"current_kek_id":"k1"}`, "table", "k1", "", false},
		{"raw JSON", 200, "application/json", `{"active":true,"current_kek_id":"k1"}`, "json", "\"current_kek_id\": \"k1\"", "", false},
		{"admin API error", 404, "application/json", `{"error":{"code":"not_found","message":"no such resource"}}`, "table", "", "not_found (HTTP 404): no such resource", false},
		{"another server's error", 502, "text/html", "<html>Bad Gateway</html>", "table", "", "http_error (HTTP 502): <html>Bad Gateway</html>", false},
		{"not JSON", 200, "text/html", "<html>a proxy's page</html>", "table", "", "", true},
		{"not JSON, -o json", 200, "text/html", "<html>a proxy's page</html>", "json", "", "", true},
		{"wrong JSON type", 200, "application/json", `["a"]`, "table", "", "", true},
		{"too large", 200, "application/json", `{"current_kek_id":"` + strings.Repeat("a", maxAnswer) + `"}`, "table", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer ak_test" {
					t.Errorf("Authorization %q", r.Header.Get("Authorization"))
				}
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			keyFile := filepath.Join(t.TempDir(), "admin.key")
			if err := os.WriteFile(keyFile, []byte("ak_test\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cf := &clientFlags{adminURL: srv.URL, keyFile: keyFile, output: tc.output}
			var out bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&out)
			cmd.SetContext(context.Background())
			err := show(cmd, cf, func(ctx context.Context, c *adminClient) (*http.Response, error) {
				return c.GetKEK(ctx)
			}, func(w io.Writer, st client.KEKStatus) error {
				_, err := io.WriteString(w, st.CurrentKekID)
				return err
			})
			switch {
			case tc.unexpected:
				if !errors.Is(err, errUnexpected) {
					t.Fatalf("error %v, want errUnexpected", err)
				}
			case tc.wantErr != "":
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			default:
				if err != nil || !strings.Contains(out.String(), tc.wantOut) {
					t.Fatalf("output %q, error %v; want %q", out.String(), err, tc.wantOut)
				}
			}
		})
	}
}
