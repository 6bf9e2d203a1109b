package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugServer serves net/http/pprof on its own listener when
// debug.pprof_addr is set. Profiles are never on the public or admin
// listener, and the handlers are mounted on a mux of their own, not on
// http.DefaultServeMux.
type debugServer struct {
	ln  net.Listener
	srv *http.Server
}

// listenDebug binds the pprof listener if one is configured.
func (s *Server) listenDebug() error {
	if s.cfg.Debug.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Debug.PprofAddr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.debug = &debugServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	return nil
}

// serveDebug serves pprof in the background; a failure is logged, never
// fatal: diagnostics must not take the server down.
func (s *Server) serveDebug() {
	if s.debug == nil {
		return
	}
	s.log.Warn("serving pprof profiles: keep this listener private", "addr", s.debug.ln.Addr().String())
	go func() {
		if err := s.debug.srv.Serve(s.debug.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("pprof listener stopped", "err", err)
		}
	}()
}

// closeDebug stops the pprof listener and any profile in flight.
func (s *Server) closeDebug() {
	if s.debug != nil {
		_ = s.debug.srv.Close()
		_ = s.debug.ln.Close()
	}
}

// DebugAddr is the bound address of the pprof listener, "" when off.
func (s *Server) DebugAddr() string {
	if s.debug == nil {
		return ""
	}
	return s.debug.ln.Addr().String()
}

// PublicHandler is the public listener's handler with all its middleware,
// so that benchmarks can drive the exact production stack in-process,
// without TCP.
func (s *Server) PublicHandler() http.Handler { return s.public.Handler }
