package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authserver/authserver/adminapi/client"
)

// clientFlags are the flags every admin command shares.
type clientFlags struct {
	adminURL string
	key      string
	keyFile  string
	output   string
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// addClientFlags defines --admin-url, --admin-key, --admin-key-file and
// --output on cmd and its subcommands.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	dataDir := envOr("AUTHSERVER_DATA_DIR", "./data")
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.adminURL, "admin-url", envOr("AUTHSERVER_ADMIN_URL", "http://127.0.0.1:8081"), "admin API base URL (env AUTHSERVER_ADMIN_URL)")
	pf.StringVar(&f.key, "admin-key", "", "account key (env AUTHSERVER_ADMIN_KEY); prefer --admin-key-file, flags show in process lists")
	pf.StringVar(&f.keyFile, "admin-key-file", envOr("AUTHSERVER_ADMIN_KEY_FILE", filepath.Join(dataDir, "admin.key")), "file holding the account key (env AUTHSERVER_ADMIN_KEY_FILE)")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	return f
}

// adminClient is the admin API's client generated from its OpenAPI
// document (adminapi/client), with the base URL it calls.
type adminClient struct {
	*client.ClientWithResponses
	base string
}

func (f *clientFlags) client() (*adminClient, error) {
	if f.output != "table" && f.output != "json" {
		return nil, fmt.Errorf("--output must be table or json, not %q", f.output)
	}
	key := f.key
	if key == "" {
		key = os.Getenv("AUTHSERVER_ADMIN_KEY")
	}
	if key == "" {
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("no account key: set --admin-key-file, AUTHSERVER_ADMIN_KEY_FILE or AUTHSERVER_ADMIN_KEY (%w)", err)
		}
		key = strings.TrimSpace(string(b))
	}
	base := strings.TrimSuffix(f.adminURL, "/")
	c, err := client.NewClientWithResponses(base,
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("--admin-url %q: %w", f.adminURL, err)
	}
	return &adminClient{ClientWithResponses: c, base: base}, nil
}

// apiError is an admin API error response.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// answer is what every generated response has.
type answer interface {
	StatusCode() int
	GetBody() []byte
}

// errUnexpected is the error of an answer the document does not describe.
var errUnexpected = errors.New("admin API returned an unexpected response")

// check turns a call's outcome into an error: err, the transport's or
// the decoder's, or the admin API error an answer of 300 or more holds.
func (c *adminClient) check(r answer, err error) error {
	if err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syntax) || errors.As(err, &typ) {
			return errUnexpected
		}
		return fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	if r.StatusCode() < 300 {
		return nil
	}
	var e client.Error
	if json.Unmarshal(r.GetBody(), &e) != nil || e.Error.Code == "" {
		return &apiError{Status: r.StatusCode(), Code: "http_error", Message: strings.TrimSpace(string(r.GetBody()))}
	}
	return &apiError{Status: r.StatusCode(), Code: e.Error.Code, Message: e.Error.Message}
}

// call is one admin API operation through the generated client.
type call[R answer] func(ctx context.Context, c *adminClient) (R, error)

// show makes call with the command's client flags and prints its answer:
// the admin API's JSON as it came with -o json, otherwise pick's value of
// the decoded answer with table.
func show[R answer, T any](cmd *cobra.Command, cf *clientFlags, do call[R], pick func(R) *T, table func(io.Writer, T) error) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	r, err := do(cmd.Context(), c)
	if err := c.check(r, err); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if cf.output == "json" {
		return printRawJSON(out, r.GetBody())
	}
	v := pick(r)
	if v == nil {
		return errUnexpected
	}
	return table(out, *v)
}

// remove makes call, a DELETE, with the command's client flags and
// reports it done: as asJSON with -o json, otherwise as the line text.
func remove[R answer](cmd *cobra.Command, cf *clientFlags, do call[R], asJSON any, text string) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	r, err := do(cmd.Context(), c)
	if err := c.check(r, err); err != nil {
		return err
	}
	if cf.output == "json" {
		return printJSON(cmd.OutOrStdout(), asJSON)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), text)
	return err
}

// pageFlags are the --after and --limit flags of a listing command.
type pageFlags struct {
	after string
	limit int
}

// define defines --after, described by afterUsage (what the cursor is),
// and --limit on cmd.
func (p *pageFlags) define(cmd *cobra.Command, afterUsage string) {
	cmd.Flags().StringVar(&p.after, "after", "", afterUsage)
	cmd.Flags().IntVar(&p.limit, "limit", 0, "page size, 1 to 500 (default 100)")
}

// params returns the listing's after and limit parameters: nil when not
// set, so the server's defaults apply.
func (p *pageFlags) params() (after *string, limit *int) {
	if p.limit > 0 {
		limit = &p.limit
	}
	return optional(p.after), limit
}

// optional is s as an optional parameter: nil when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// pageTable prints a page of a listing: a table of header and one row
// per item, followed by the cursor of the next page if there is one.
func pageTable[T any](header []string, row func(T) []string, items []T, next *string) func(io.Writer) error {
	return func(out io.Writer) error {
		if err := printTable(out, header, rowsOf(items, row)); err != nil {
			return err
		}
		if next != nil && *next != "" {
			_, err := io.WriteString(out, "more: --after "+*next+"\n")
			return err
		}
		return nil
	}
}
