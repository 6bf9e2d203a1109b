package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authserver/authserver/adminapi"
)

// Contract checks exchanges with the admin API against its OpenAPI
// document (adminapi/openapi.yaml), whoever the client: it wraps the admin
// listener's handler, so the CLI's requests, raw ones and hostile ones
// are all checked. An exchange breaks the contract when:
//
//   - the request is one the document describes and the answer is not:
//     an undocumented status, error code, field or required header;
//   - the request is one the document refuses (a field or parameter it
//     does not name, a missing key, another media type) and the server
//     accepted it (a 2xx), or refused it with an undocumented answer;
//   - the request names no operation of the document and the answer is
//     not 404 not_found or 405 method_not_allowed (or 413, 503).
//
// A 500 always breaks it. Every instance reports the broken exchanges
// when its test ends (CheckContract).
type Contract struct {
	spec   *spec
	active atomic.Int64

	mu         sync.Mutex
	checked    int
	violations []string
}

// spec is the loaded document, shared by every instance of a test binary:
// loading it takes longer than checking an exchange. It is only read.
type spec struct {
	router routers.Router
	errors *openapi3.Schema
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(adminapi.Document())
	if err != nil {
		return nil, fmt.Errorf("load the admin API's document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the admin API's document is not valid: %w", err)
	}
	// Match requests whatever the host: test listeners take free ports.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the admin API's document: %w", err)
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil {
		return nil, errors.New("the admin API's document has no Error schema")
	}
	return &spec{router: router, errors: errSchema.Value}, nil
})

// NewContract returns a checker of admin exchanges, or fails the test if
// the document cannot be loaded.
func NewContract(t testing.TB) *Contract {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return &Contract{spec: s}
}

// maxRecorded bounds what is kept of a request or response body: far
// above the admin listener's body limit and its largest answer.
const maxRecorded = 4 << 20

// Middleware checks every exchange under /admin/v1 that next serves.
func (c *Contract) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/admin/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		c.active.Add(1)
		defer c.active.Add(-1)
		body := &recordedBody{ReadCloser: r.Body}
		r.Body = body
		resp := &recordedResponse{ResponseWriter: w}
		next.ServeHTTP(resp, r)
		if resp.header == nil {
			resp.header = w.Header().Clone()
		}
		var reqBody []byte
		switch {
		case r.ContentLength == 0 && len(r.TransferEncoding) == 0:
			reqBody = []byte{}
		case body.eof && !body.cut:
			reqBody = body.buf.Bytes()
		}
		c.Check(r, reqBody, resp.status, resp.header, resp.buf.Bytes())
	})
}

// Check checks one exchange: the request r with reqBody (nil when the
// server did not read all of it, so it is unknown), and the answer's
// status, headers and body.
func (c *Contract) Check(r *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	if status == 0 {
		status = http.StatusOK
	}
	if problem := c.spec.check(r, reqBody, status, header, body); problem != "" {
		c.mu.Lock()
		c.violations = append(c.violations, problem)
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()
}

func (s *spec) check(r *http.Request, reqBody []byte, status int, header http.Header, body []byte) string {
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	name := fmt.Sprintf("%s %.120s -> %d", r.Method, r.URL.Path, status)
	if status >= 500 && status != http.StatusServiceUnavailable {
		return fmt.Sprintf("%s: a server error: %s", name, firstLine(string(body)))
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return s.checkUnrouted(name, status, header, body)
	}
	name = fmt.Sprintf("%s (%s)", name, route.Operation.OperationID)
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent},
	}
	var reqErr error
	if reqBody == nil && route.Operation.RequestBody != nil {
		reqErr = errors.New("the server did not read the whole body")
	} else {
		reqErr = openapi3filter.ValidateRequest(ctx, in)
	}
	respErr := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	switch {
	case respErr != nil:
		return fmt.Sprintf("%s: the answer is not in the document: %s", name, firstLine(respErr.Error()))
	case reqErr != nil && status < 400:
		return fmt.Sprintf("%s: the server accepted a request the document refuses: %s", name, firstLine(reqErr.Error()))
	}
	return ""
}

// checkUnrouted checks the answer to a request for no operation of the
// document: the error the listener gives any path.
func (s *spec) checkUnrouted(name string, status int, header http.Header, body []byte) string {
	want := map[int]string{
		http.StatusNotFound: "not_found", http.StatusMethodNotAllowed: "method_not_allowed",
		http.StatusRequestEntityTooLarge: "body_too_large", http.StatusServiceUnavailable: "temporarily_unavailable",
	}[status]
	if want == "" {
		return fmt.Sprintf("%s: no operation of the document has this method and path", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil || !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return fmt.Sprintf("%s: not a JSON error: %s", name, firstLine(string(body)))
	}
	if err := s.errors.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Sprintf("%s: not the Error schema: %s", name, firstLine(err.Error()))
	}
	if code := v.(map[string]any)["error"].(map[string]any)["code"]; code != want {
		return fmt.Sprintf("%s: code %v, want %s", name, code, want)
	}
	return ""
}

// bearerPresent is the document's accountKey scheme as a request can
// meet it: a bearer credential is there. Whether it is a valid key is the
// server's to say (401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	key, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		return errors.New("no bearer account key")
	}
	return nil
}

// firstLine keeps the first line of a validation error: the lines after
// it quote the schema and the value, which may be a secret.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Checked returns how many exchanges were checked so far.
func (c *Contract) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

// TakeViolations waits (up to 10 s) until no exchange is being served,
// then returns the broken exchanges so far and forgets them: a check runs
// after the answer is sent, so a client may read it first.
func (c *Contract) TakeViolations() []string {
	for deadline := time.Now().Add(10 * time.Second); c.active.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.violations
	c.violations = nil
	return v
}

// CheckContract fails the test for every admin exchange of the instance
// that broke the admin API's contract (see Contract). Every instance runs
// it when its test ends.
func (in *Instance) CheckContract(t testing.TB) {
	t.Helper()
	if in.Contract == nil {
		return
	}
	if v := in.Contract.TakeViolations(); len(v) > 0 {
		t.Errorf("%d admin API exchanges broke the contract of adminapi/openapi.yaml:\n  %s", len(v), strings.Join(v, "\n  "))
	}
}

// recordedBody keeps what the server reads of a request body.
type recordedBody struct {
	io.ReadCloser
	buf      bytes.Buffer
	eof, cut bool
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.buf.Len()+n > maxRecorded {
		b.cut = true
	} else {
		b.buf.Write(p[:n])
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

// recordedResponse keeps the status, headers and body of an answer.
type recordedResponse struct {
	http.ResponseWriter
	status int
	header http.Header
	buf    bytes.Buffer
}

func (w *recordedResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status, w.header = status, w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.buf.Len()+len(p) <= maxRecorded {
		w.buf.Write(p)
	}
	return w.ResponseWriter.Write(p)
}
