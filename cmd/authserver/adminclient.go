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
	*client.Client
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
	c, err := client.NewClient(base,
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("--admin-url %q: %w", f.adminURL, err)
	}
	return &adminClient{Client: c, base: base}, nil
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

// errUnexpected is the error of an answer the document does not describe.
var errUnexpected = errors.New("admin API returned an unexpected response")

// maxAnswer bounds the body of an admin API answer the CLI reads: a page
// of 500 apps is well under it.
const maxAnswer = 16 << 20

// read turns a call's outcome into the body of its answer, read whole:
// err is the transport's, and an answer of 300 or more becomes the admin
// API error it holds.
func (c *adminClient) read(r *http.Response, err error) ([]byte, error) {
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	defer r.Body.Close()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: read answer: %w", c.base, err)
	}
	if len(body) > maxAnswer {
		return nil, errUnexpected
	}
	if r.StatusCode < 300 {
		return body, nil
	}
	var e client.Error
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return nil, &apiError{Status: r.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(body))}
	}
	return nil, &apiError{Status: r.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
}

// decode decodes body, JSON, as T; a body that is not one is
// errUnexpected.
func decode[T any](body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, errUnexpected
	}
	return v, nil
}

// call is one admin API operation through the generated client.
type call func(ctx context.Context, c *adminClient) (*http.Response, error)

// show makes call with the command's client flags and prints its answer:
// the admin API's JSON as it came with -o json, otherwise the answer
// decoded as T with table.
func show[T any](cmd *cobra.Command, cf *clientFlags, do call, table func(io.Writer, T) error) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	body, err := c.read(do(cmd.Context(), c))
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if cf.output == "json" {
		return printRawJSON(out, body)
	}
	v, err := decode[T](body)
	if err != nil {
		return err
	}
	return table(out, v)
}

// remove makes call, a DELETE, with the command's client flags and
// reports it done: as asJSON with -o json, otherwise as the line text.
func remove(cmd *cobra.Command, cf *clientFlags, do call, asJSON any, text string) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	if _, err := c.read(do(cmd.Context(), c)); err != nil {
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
