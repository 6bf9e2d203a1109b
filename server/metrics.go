package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
)

// metricsServer serves GET /metrics on a listener of its own when
// metrics.addr is set; otherwise the admin listener serves it.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// metricsOnAdmin returns the handler the admin listener serves at
// /metrics: the registry's, unless metrics.addr moves it elsewhere.
func (s *Server) metricsOnAdmin() http.Handler {
	if s.cfg.Metrics.Addr != "" {
		return nil
	}
	return s.Metrics.Handler()
}

// listenMetrics binds the metrics listener if one is configured.
func (s *Server) listenMetrics() error {
	if s.cfg.Metrics.Addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Metrics.Addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.Metrics.Handler())
	// The admin listener's timeouts: a scrape is a small, quick request.
	s.metrics = &metricsServer{ln: ln, srv: httpServer(s.cfg.Admin, mux, s.log)}
	return nil
}

// serveMetrics serves the metrics listener in the background; a failure
// is logged, never fatal: an unscraped server still serves tokens.
func (s *Server) serveMetrics() {
	if s.metrics == nil {
		return
	}
	go func() {
		if err := s.metrics.srv.Serve(s.metrics.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics listener stopped", "err", err)
		}
	}()
}

// closeMetrics stops the metrics listener.
func (s *Server) closeMetrics() {
	if s.metrics != nil {
		_ = s.metrics.srv.Close()
		_ = s.metrics.ln.Close()
	}
}

// MetricsAddr is the bound address of the metrics listener, "" when
// /metrics is on the admin listener.
func (s *Server) MetricsAddr() string {
	if s.metrics == nil {
		return ""
	}
	return s.metrics.ln.Addr().String()
}
