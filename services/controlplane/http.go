package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wake-run/wake/services/hostguard"
)

// DefaultHTTPAddr is where the server serves its web endpoints (the dashboard and
// /metrics) unless told otherwise.
const DefaultHTTPAddr = "127.0.0.1:4280"

// startHTTP listens on addr and serves mux until Shutdown. An empty addr means
// DefaultHTTPAddr; "off" serves nothing.
func (s *Server) startHTTP(addr string) error {
	if addr == "off" {
		return nil
	}
	if addr == "" {
		addr = DefaultHTTPAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web endpoints (dashboard, /metrics) on %s: %w (choose another address with --http, or --http off)", addr, err)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	// Only requests naming this address are answered (DNS rebinding protection).
	srv := &http.Server{Handler: hostguard.Wrap(s.mux, addr, ln.Addr()), ReadHeaderTimeout: 10 * time.Second}
	s.httpSrv = srv
	s.httpURL = "http://" + ln.Addr().String()
	// srv, not s.httpSrv: a Shutdown right after Start clears s.httpSrv before
	// this goroutine may have run.
	s.spawn(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("web endpoints stopped", "err", err)
		}
	})
	return nil
}

func (s *Server) stopHTTP() {
	if s.httpSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Streams (live updates, followed logs) never end by themselves: close them.
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		_ = s.httpSrv.Close()
	}
	s.httpSrv = nil
}

// HTTPURL is the base URL of the web endpoints ("" when they are off).
func (s *Server) HTTPURL() string { return s.httpURL }

// Handle adds a web endpoint to the server's HTTP listener (see http.ServeMux for
// patterns). It may be called at any time.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }
