package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authserver/authserver/server"
	"github.com/authserver/authserver/test/testserver"
)

// At the cap on concurrent requests the next request is refused at once
// with 503 temporarily_unavailable and Retry-After, not queued; /healthz
// still answers; when the slot frees, service resumes.
func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) { c.Public.MaxConcurrentRequests = 1 })
	// A request whose handler waits for the rest of its body holds the
	// only slot for as long as the test wants.
	body := "grant_type=client_credentials&pad="
	const length = 64
	hold := func() net.Conn {
		conn, err := net.Dial("tcp", strings.TrimPrefix(in.PublicURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", length, body)
		return conn
	}
	conn := hold()
	defer func() { conn.Close() }()

	var refused *http.Response
	eventually(t, "a second request is refused", func() bool {
		resp := get(t, in.PublicURL+"/.well-known/jwks.json")
		if resp.StatusCode == http.StatusServiceUnavailable {
			refused = resp
			return true
		}
		// On a busy machine the held request can reach the server while
		// this poll has the slot; then it is the one refused (the server
		// has answered or closed it), and it must be sent again.
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if n, err := conn.Read(b[:]); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			conn.Close()
			conn = hold()
		}
		return false
	})
	_ = conn.SetReadDeadline(time.Time{})
	if refused.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", refused.Header.Get("Retry-After"))
	}
	status, b, _ := postForm(t, in.PublicURL+"/oauth2/token", nil, "")
	if status != http.StatusServiceUnavailable || b["error"] != "temporarily_unavailable" {
		t.Fatalf("token endpoint at the cap: %d %v", status, b)
	}
	if resp, err := http.Get(in.PublicURL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz at the cap: %v %v", resp, err)
	}

	// Finish the first request: it is answered (no credentials: 401) and
	// frees the slot.
	fmt.Fprint(conn, strings.Repeat("x", length-len(body)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the held request: %d", resp.StatusCode)
	}
	eventually(t, "service resumes", func() bool {
		return get(t, in.PublicURL+"/.well-known/jwks.json").StatusCode == http.StatusOK
	})
}

// A client that sends its headers or its body too slowly loses the
// connection (slow-loris): the server's read timeouts apply to every
// listener.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	in := testserver.Start(t, func(c *server.Config) {
		for _, l := range []*server.ListenConfig{&c.Public, &c.Admin} {
			l.ReadHeaderTimeout, l.ReadTimeout = 200*time.Millisecond, 400*time.Millisecond
		}
	})
	tests := []struct {
		name, addr, partial string
	}{
		{"public, headers", in.PublicURL, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"},
		{"public, body", in.PublicURL, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type="},
		{"admin, headers", in.AdminURL, "GET /admin/v1/apps HTTP/1.1\r\nHost: x\r\n"},
		{"admin, body", in.AdminURL, "POST /admin/v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + in.AdminKey + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(tc.addr, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprint(conn, tc.partial)
			// The server must end the exchange by itself; the deadline
			// only keeps a broken server from hanging the test.
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = io.ReadAll(conn)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the server kept the connection of a slow client open")
			}
		})
	}
}
