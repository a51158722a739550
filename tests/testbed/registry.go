package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is an in-memory OCI registry served over plain HTTP on 127.0.0.1.
// Docker treats 127.0.0.0/8 registries as insecure by default, so every engine
// of the bed (they all run on this machine) pulls from it for real.
type Registry struct {
	// Addr is host:port, the registry part of every image reference pushed here.
	Addr string

	srv  *http.Server
	done chan struct{}

	mu       sync.Mutex
	requests []Request
}

// Request is one HTTP request the registry answered.
type Request struct {
	Method string
	Path   string
	Status int
	Time   time.Time
}

// StartRegistry starts a registry on 127.0.0.1 at a free port. Close stops it.
func StartRegistry(ctx context.Context) (*Registry, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start registry: listen: %w", err)
	}
	r := &Registry{Addr: ln.Addr().String(), done: make(chan struct{})}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = &http.Server{Handler: r.record(h), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		// Serve returns ErrServerClosed after Close; nothing to report then.
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// record is the middleware that logs every request, so tests can assert what
// tarsup asked the registry (for example: only HEAD requests for manifests).
func (r *Registry) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, req)
		r.mu.Lock()
		r.requests = append(r.requests, Request{Method: req.Method, Path: req.URL.Path, Status: sw.status, Time: start})
		r.mu.Unlock()
	})
}

// Requests returns a copy of the requests answered since the start or the last
// ResetRequests, oldest first.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// ResetRequests forgets the requests recorded so far.
func (r *Registry) ResetRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// Close stops the registry; its content is lost.
func (r *Registry) Close() error {
	err := r.srv.Close()
	<-r.done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("close registry %s: %w", r.Addr, err)
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
