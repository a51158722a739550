package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/internal/wait"
)

// DefaultRetries is how many times a registry request answered 429 Too
// Many Requests or a 5xx is retried when the command line does not say
// (--registry-retries).
const DefaultRetries = 3

// MaxRetries bounds --registry-retries: with the doubling backoff, ten
// retries already wait over a quarter of an hour for one request.
const MaxRetries = 10

// MaxRetryAfter is the longest Retry-After tarsup waits for. A registry that
// asks for longer (Docker Hub's pull limit asks for hours) is not asked
// again: waiting a shorter time and asking anyway would not honour it, and a
// cron job must not hang for hours.
const MaxRetryAfter = time.Minute

// retryBase is the first wait when the answer names no Retry-After; each
// further retry doubles it (1s, 2s, 4s...), within MaxRetryAfter.
const retryBase = time.Second

// retryTransport retries the idempotent requests (GET, HEAD without a body)
// a registry answered with 429 or a 5xx, or that the network cut (a
// connection reset, an unexpected EOF), at most max times, waiting what
// Retry-After says (seconds or an HTTP date) or else an exponential
// backoff with jitter, and counts every retry.
//
// Why tarsup's own and not go-containerregistry's: the pinned v0.21.5's
// remote.WithRetryBackoff/WithRetryStatusCodes/WithRetryPredicate retry
// with a fixed backoff that ignores Retry-After, do not retry 429 by default,
// sleep without looking at the context (a SIGTERM would wait the backoff
// out), and cannot count what they did. Handing remote a transport.Wrapper
// to opt out would also drop its authentication, so Registry switches the
// library's retries off (no status codes, a predicate that never retries)
// and gives it this transport underneath: the ping, the token requests and
// the manifest HEADs all go through it.
type retryTransport struct {
	inner http.RoundTripper
	max   int
	count *atomic.Int64
	log   logrus.FieldLogger
	// sleep waits between attempts (wait.Sleep); now reads the clock for an
	// HTTP-date Retry-After; jitter spreads a backoff (tests fix them).
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func(time.Duration) time.Duration
}

func newRetryTransport(inner http.RoundTripper, max int, count *atomic.Int64, log logrus.FieldLogger) *retryTransport {
	return &retryTransport{inner: inner, max: max, count: count, log: log, sleep: wait.Sleep, now: time.Now, jitter: jitter}
}

// jitter adds up to a tenth to d, so that a fleet's cron jobs that met the
// same limit do not come back in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// RoundTrip sends req, and again after a wait while the answer says the
// registry is busy or failing and retries remain. The last answer (or
// error) is returned as is: go-containerregistry turns a 429 into its error.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !idempotent(req) {
		return t.inner.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		d, why, ok := t.backoff(resp, err, attempt)
		if !ok {
			return resp, err
		}
		if attempt >= t.max {
			t.logf(req, "%s, after %d %s (--registry-retries %d): giving up", why, attempt, plural(attempt, "retry", "retries"), t.max)
			return resp, err
		}
		if resp != nil {
			// Why drain: the connection goes back to the pool only when its
			// body was read to the end.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		t.count.Add(1)
		t.logf(req, "%s: retry %d of %d in %s", why, attempt+1, t.max, d.Round(time.Millisecond))
		if err := t.sleep(req.Context(), d); err != nil {
			return nil, fmt.Errorf("%s %s: waiting to retry (%s): %w", req.Method, req.URL.Redacted(), why, err)
		}
	}
}

// backoff says whether an attempt's outcome is worth another and how long
// to wait first. A Retry-After over MaxRetryAfter is honoured by not asking
// again (ok false).
func (t *retryTransport) backoff(resp *http.Response, err error, attempt int) (d time.Duration, why string, ok bool) {
	if err != nil {
		if !transient(err) {
			return 0, "", false
		}
		return t.jitter(exponential(attempt)), err.Error(), true
	}
	if !retryStatus(resp.StatusCode) {
		return 0, "", false
	}
	why = "registry answered " + resp.Status
	after, has := retryAfter(resp.Header.Get("Retry-After"), t.now())
	if !has {
		return t.jitter(exponential(attempt)), why, true
	}
	if after > MaxRetryAfter {
		t.logf(resp.Request, "%s and asks to wait %s (Retry-After), longer than tarsup waits (%s): not retried", why, after.Round(time.Second), MaxRetryAfter)
		return 0, "", false
	}
	return after, why + " (Retry-After " + after.Round(time.Millisecond).String() + ")", true
}

func (t *retryTransport) logf(req *http.Request, format string, a ...any) {
	if t.log == nil {
		return
	}
	target := ""
	if req != nil {
		target = req.Method + " " + req.URL.Redacted()
	}
	t.log.WithField("request", target).Warnf(format, a...)
}

// idempotent reports whether req may be sent again as it is: a GET or HEAD
// without a body (every look-up, ping and token request of a digest check).
func idempotent(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) && (req.Body == nil || req.Body == http.NoBody)
}

// retryStatus reports whether a status says "busy or failing, try again":
// 429 and the 5xx, except those that say the request itself will never
// work (501 Not Implemented, 505 HTTP Version Not Supported).
func retryStatus(code int) bool {
	if code == http.StatusTooManyRequests {
		return true
	}
	return code >= 500 && code <= 599 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
}

// transient reports whether a network error is a flake worth another try
// (what go-containerregistry retries by default): a reset or closed
// connection, an EOF mid-answer. Refused connections, unknown hosts, TLS
// errors and timeouts are not: they fail the same way at once, or after as
// long again.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// exponential is the wait before retry attempt+1 when the registry names
// none: retryBase doubled per attempt, within MaxRetryAfter.
func exponential(attempt int) time.Duration {
	d := retryBase
	for range attempt {
		if d *= 2; d >= MaxRetryAfter {
			return MaxRetryAfter
		}
	}
	return d
}

// retryAfter reads a Retry-After header (RFC 9110): a number of seconds, or
// an HTTP date (a date in the past means now). has is false when there is
// none or it does not parse.
func retryAfter(v string, now time.Time) (d time.Duration, has bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d = at.Sub(now); d < 0 {
		d = 0
	}
	return d, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
