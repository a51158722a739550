package watch

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Handler serves the watch's HTTP endpoints: GET /v1/status, GET /metrics
// and POST /v1/update. Runs started by POST /v1/update get runCtx, the
// process's context.
func (w *Watcher) Handler(runCtx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", w.serveStatus)
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = io.WriteString(rw, w.metrics.Text())
	})
	mux.HandleFunc("POST /v1/update", func(rw http.ResponseWriter, r *http.Request) {
		w.serveUpdate(runCtx, rw, r)
	})
	return mux
}

func (w *Watcher) serveStatus(rw http.ResponseWriter, r *http.Request) {
	rows, err := w.opts.Status(r.Context())
	if err != nil {
		httpError(rw, http.StatusBadGateway, err)
		return
	}
	// Why the last turn's look-ups and not new ones: a status poll every
	// few seconds must not become a registry request each time.
	ups, at := w.metrics.Updates()
	missing := plan.Update{State: plan.UpdateUnknown, Detail: "not looked up yet: watch looks at each turn"}
	if !at.IsZero() {
		missing.Detail = "not looked up: it changed since the last turn (" + at.UTC().Format(time.RFC3339) + "), or is outside --only"
	}
	orchestrator.ApplyUpdates(rows, ups, missing)
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(rows)
}

// serveUpdate runs a refresh now: 401/403 without the right token, 400 for
// a force value other than 1/true/0/false, 409 while a run is under way
// (here or under the run lock elsewhere), 503 when it could not start, 500
// with the report when it failed, else 200. It honours the maintenance
// windows (outside one it checks and reports, and starts nothing) unless
// ?force=1.
func (w *Watcher) serveUpdate(runCtx context.Context, rw http.ResponseWriter, r *http.Request) {
	if code, msg := Authorize(w.opts.Token, r.Header.Get("Authorization")); code != http.StatusOK {
		if code == http.StatusUnauthorized {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="tarsup"`)
		}
		httpError(rw, code, errors.New(msg))
		return
	}
	trigger, err := updateTrigger(r.URL.Query().Get("force"))
	if err != nil {
		httpError(rw, http.StatusBadRequest, err)
		return
	}
	rep, err := w.RunOnce(runCtx, trigger)
	var locked *lock.LockedError
	switch {
	case errors.Is(err, ErrBusy), errors.As(err, &locked):
		httpError(rw, http.StatusConflict, err)
		return
	case err != nil && rep.Time.IsZero():
		httpError(rw, http.StatusServiceUnavailable, err)
		return
	}
	code := http.StatusOK
	if err != nil {
		code = http.StatusInternalServerError
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(rep)
}

// Authorize checks a request's Authorization header against the token, in
// constant time, and returns the HTTP status to answer (200: go on) and why.
// Why hash both sides first: subtle.ConstantTimeCompare returns early on a
// length mismatch, which would leak the token's length.
func Authorize(token []byte, header string) (int, string) {
	if len(token) == 0 {
		return http.StatusForbidden, "POST /v1/update is off: start tarsup watch with --http-token-file FILE (or --http-token) to turn it on"
	}
	scheme, got, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return http.StatusUnauthorized, "send Authorization: Bearer TOKEN"
	}
	want := sha256.Sum256(token)
	have := sha256.Sum256([]byte(strings.TrimSpace(got)))
	if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		return http.StatusUnauthorized, "wrong token"
	}
	return http.StatusOK, ""
}

func httpError(rw http.ResponseWriter, code int, err error) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": err.Error()})
}

// updateTrigger reads POST /v1/update's force parameter.
func updateTrigger(force string) (string, error) {
	switch strings.ToLower(force) {
	case "", "0", "false":
		return TriggerHTTP, nil
	case "1", "true":
		return TriggerForced, nil
	}
	return "", fmt.Errorf("bad force=%q: use force=1 to ignore the maintenance windows, or leave it out", force)
}
