package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
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

// adminClient calls the admin API with an account key.
type adminClient struct {
	base string
	key  string
	http *http.Client
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
	return &adminClient{base: strings.TrimSuffix(f.adminURL, "/"), key: key, http: &http.Client{Timeout: 30 * time.Second}}, nil
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

// do sends a request with body encoded as JSON (if not nil) and decodes the
// response into out (if not nil). headers are extra request headers.
func (c *adminClient) do(ctx context.Context, method, path string, body, out any, headers ...string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			return &apiError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(data))}
		}
		return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errors.New("admin API returned an unexpected response")
	}
	return nil
}

// page is one page of an admin API listing: its items and, when more
// follow, the cursor to pass as --after for the next one.
type page[T any] struct {
	Items     []T    `json:"items"`
	NextAfter string `json:"next_after,omitempty"`
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

// query encodes the query of a listing request: the filters that are not
// empty, the after cursor if set and the page size if positive (0 leaves
// the server's default).
func (p *pageFlags) query(filters map[string]string) string {
	q := url.Values{}
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
	if p.after != "" {
		q.Set("after", p.after)
	}
	if p.limit > 0 {
		q.Set("limit", strconv.Itoa(p.limit))
	}
	return q.Encode()
}

// fetchAndPrint sends one admin API request with the command's client
// flags, decodes the response as a T and prints it: as JSON with -o json,
// otherwise with table. headers are extra request headers, as for do.
func fetchAndPrint[T any](cmd *cobra.Command, cf *clientFlags, method, path string, body any, table func(io.Writer, T) error, headers ...string) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	var v T
	if err := c.do(cmd.Context(), method, path, body, &v, headers...); err != nil {
		return err
	}
	return printAs(cmd, cf, v, table)
}

// deleteAndReport sends an admin API DELETE to path with the command's
// client flags and reports it done: as asJSON with -o json, otherwise as
// the line text.
func deleteAndReport(cmd *cobra.Command, cf *clientFlags, path string, asJSON any, text string) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	if err := c.do(cmd.Context(), http.MethodDelete, path, nil, nil); err != nil {
		return err
	}
	if cf.output == "json" {
		return printJSON(cmd.OutOrStdout(), asJSON)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), text)
	return err
}

// printAs prints v on the command's output: as JSON with -o json,
// otherwise with table.
func printAs[T any](cmd *cobra.Command, cf *clientFlags, v T, table func(io.Writer, T) error) error {
	out := cmd.OutOrStdout()
	if cf.output == "json" {
		return printJSON(out, v)
	}
	return table(out, v)
}

// listPage fetches one page of a listing at path (query included) and
// prints it: as JSON with -o json, otherwise as a table of header and one
// row per item, followed by the cursor of the next page if there is one.
func listPage[T any](cmd *cobra.Command, cf *clientFlags, path string, header []string, row func(T) []string) error {
	return fetchAndPrint(cmd, cf, http.MethodGet, path, nil, func(out io.Writer, p page[T]) error {
		if err := printTable(out, header, rowsOf(p.Items, row)); err != nil {
			return err
		}
		if p.NextAfter != "" {
			_, err := io.WriteString(out, "more: --after "+p.NextAfter+"\n")
			return err
		}
		return nil
	})
}
