package images

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tarsup/tarsup/fault"
)

// scripted answers each request with the next of its statuses (the last
// one repeats) and records the requests.
type scripted struct {
	mu      sync.Mutex
	answers []func(*http.Request) (*http.Response, error)
	calls   []string
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, req.Method+" "+req.URL.Path)
	i := min(len(s.calls)-1, len(s.answers)-1)
	return s.answers[i](req)
}

func status(code int, header ...string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
}

func fails(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

// clockedTransport is a retryTransport whose waits are recorded, not slept.
func clockedTransport(inner http.RoundTripper, max int, now time.Time) (*retryTransport, *[]time.Duration, *atomic.Int64) {
	var waits []time.Duration
	count := &atomic.Int64{}
	t := newRetryTransport(inner, max, count, nil)
	t.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	t.now = func() time.Time { return now }
	t.jitter = func(d time.Duration) time.Duration { return d }
	return t, &waits, count
}

func TestRetryTransport(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		method    string
		max       int
		answers   []func(*http.Request) (*http.Response, error)
		wantCode  int
		wantErr   error
		wantWaits []time.Duration
	}{
		{name: "429 with Retry-After seconds", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(429, "Retry-After", "2"), status(200)},
			wantCode: 200, wantWaits: []time.Duration{2 * time.Second}},
		{name: "429 with Retry-After as an HTTP date", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(429, "Retry-After", now.Add(5*time.Second).Format(http.TimeFormat)), status(200)},
			wantCode: 200, wantWaits: []time.Duration{5 * time.Second}},
		{name: "a date in the past means now", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(429, "Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), status(200)},
			wantCode: 200, wantWaits: []time.Duration{0}},
		{name: "503 without Retry-After backs off, doubling", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(503), status(502), status(200)},
			wantCode: 200, wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "bounded: the last answer is returned", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(503)},
			wantCode: 503, wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "no retries asked", max: 0,
			answers:  []func(*http.Request) (*http.Response, error){status(429, "Retry-After", "1"), status(200)},
			wantCode: 429},
		{name: "a Retry-After over the cap is not waited for", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(429, "Retry-After", "3600"), status(200)},
			wantCode: 429},
		{name: "an unparsable Retry-After backs off", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(429, "Retry-After", "soon"), status(200)},
			wantCode: 200, wantWaits: []time.Duration{time.Second}},
		{name: "404 is an answer, not a failure", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(404), status(200)},
			wantCode: 404},
		{name: "501 will never work", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(501), status(200)},
			wantCode: 501},
		{name: "a reset connection is retried", max: 3,
			answers:  []func(*http.Request) (*http.Response, error){fails(syscall.ECONNRESET), status(200)},
			wantCode: 200, wantWaits: []time.Duration{time.Second}},
		{name: "a refused connection is not", max: 3,
			answers: []func(*http.Request) (*http.Response, error){fails(syscall.ECONNREFUSED), status(200)},
			wantErr: syscall.ECONNREFUSED},
		{name: "POST is never sent twice", method: http.MethodPost, max: 3,
			answers:  []func(*http.Request) (*http.Response, error){status(503), status(200)},
			wantCode: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &scripted{answers: tt.answers}
			rt, waits, count := clockedTransport(inner, tt.max, now)
			method := tt.method
			if method == "" {
				method = http.MethodHead
			}
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader("x")
			}
			req := httptest.NewRequestWithContext(t.Context(), method, "http://reg.example/v2/tarscloud/framework/manifests/v3.0.16", body)
			resp, err := rt.RoundTrip(req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("RoundTrip = %v, %v; want error %v", resp, err, tt.wantErr)
				}
			} else if err != nil || resp.StatusCode != tt.wantCode {
				t.Fatalf("RoundTrip = %v, %v; want status %d", resp, err, tt.wantCode)
			}
			if !equalDurations(*waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", *waits, tt.wantWaits)
			}
			if int(count.Load()) != len(tt.wantWaits) || len(inner.calls) != len(tt.wantWaits)+1 {
				t.Errorf("%d retries counted, %d requests sent; want %d and %d", count.Load(), len(inner.calls), len(tt.wantWaits), len(tt.wantWaits)+1)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRetryCancelled: a signal during the wait ends it at once, with the
// context's error.
func TestRetryCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	inner := &scripted{answers: []func(*http.Request) (*http.Response, error){status(429, "Retry-After", "30")}}
	rt := newRetryTransport(inner, 3, &atomic.Int64{}, nil)
	rt.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodHead, "http://reg.example/v2/x/manifests/v1", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("RoundTrip = %v, want context.Canceled", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		has  bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{"Tue, 01 Dec 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Tue, 01 Dec 2026 09:00:00 GMT", 0, true},
		{"tomorrow", 0, false},
	} {
		if d, has := retryAfter(tt.in, now); d != tt.want || has != tt.has {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tt.in, d, has, tt.want, tt.has)
		}
	}
}

// busyHEADs answers the next n manifest HEADs (set by busy) 429 with
// Retry-After: 0, as a registry limiting requests does, and passes
// everything else on.
type busyHEADs struct {
	mu sync.Mutex
	n  int
}

func (b *busyHEADs) busy(n int) {
	b.mu.Lock()
	b.n = n
	b.mu.Unlock()
}

func (b *busyHEADs) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		busy := r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") && b.n > 0
		if busy {
			b.n--
		}
		b.mu.Unlock()
		if busy {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestRegistryRetries: a Registry retries what its registry answered 429,
// counts it, and fails as unreachable (exit 2) once its retries are spent,
// saying what the registry answered.
func TestRegistryRetries(t *testing.T) {
	b := &busyHEADs{}
	rc := startRegistry(t, "127.0.0.1:0", b.wrap)
	want := push(t, rc.host, "tarscloud/framework", "v3.0.16")
	push(t, rc.host, "tarscloud/framework", "v3.0.17")

	b.busy(2)
	reg := &Registry{Keychain: anonymous, Retries: 3}
	if got, err := reg.Digest(t.Context(), mustParse(t, rc.host+"/tarscloud/framework:v3.0.16")); err != nil || got != want {
		t.Fatalf("Digest = %q, %v; want %s after two retries", got, err, want)
	}
	if n := reg.RetryCount(); n != 2 {
		t.Errorf("RetryCount = %d, want 2", n)
	}

	b.busy(5)
	reg = &Registry{Keychain: anonymous, Retries: 1}
	_, err := reg.Digest(t.Context(), mustParse(t, rc.host+"/tarscloud/framework:v3.0.17"))
	if !errors.Is(err, fault.Unreachable) || !strings.Contains(err.Error(), "answered 429 Too Many Requests") || !strings.Contains(err.Error(), "--registry-retries") {
		t.Errorf("Digest past its retries: %v; want fault.Unreachable saying 429 and --registry-retries", err)
	}
	if n := reg.RetryCount(); n != 1 {
		t.Errorf("RetryCount = %d, want 1", n)
	}
}
