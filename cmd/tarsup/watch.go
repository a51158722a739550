package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	// Why embedded zone data: the image is FROM scratch, and a schedule may
	// name a zone (CRON_TZ=Asia/Shanghai 0 3 * * *).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

func watchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "run refresh on a schedule, as a long-running process (it can run in a container with the Docker socket mounted); optionally serve status, metrics and an update endpoint",
		UsageText: "tarsup watch [--host URL]... --schedule SPEC [--http-addr ADDR] [--http-token TOKEN | --http-token-file FILE]\n" +
			"             [--notify-url URL] [the refresh flags]\n\n" +
			"   SPEC: five cron fields (\"0 3 * * *\") or a descriptor (@daily, @hourly, \"@every 1h\"), in local time\n" +
			"   unless it starts with CRON_TZ=Zone. SIGTERM and SIGINT wait for the recreate under way to finish or\n" +
			"   roll back, start no new one, and exit 0.",
		Flags: append(append(connFlags(), refreshFlags()...),
			&cli.StringFlag{Name: "schedule", Usage: "when to refresh: cron `SPEC` (5 fields) or @daily, @hourly, \"@every 1h\"..."},
			&cli.StringFlag{Name: "http-addr", Usage: "serve GET /v1/status, GET /metrics and POST /v1/update on `ADDR` (e.g. 127.0.0.1:8080); off when empty"},
			&cli.StringFlag{Name: "http-token", EnvVars: []string{"TARSUP_HTTP_TOKEN"}, Usage: "bearer `TOKEN` POST /v1/update requires (without one the endpoint is off); prefer --http-token-file, a flag shows in ps"},
			&cli.StringFlag{Name: "http-token-file", Usage: "read the bearer token from `FILE` (surrounding white space is ignored)"},
			&cli.StringFlag{Name: "notify-url", Usage: "POST the JSON report to `URL` after every run that changed something (or would, with --monitor-only) or failed"},
		),
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if err := checkRefreshFlags(c); err != nil {
				return err
			}
			sched, err := parseSchedule(c.String("schedule"))
			if err != nil {
				return err
			}
			token, err := readToken(c.String("http-token"), c.String("http-token-file"), c.IsSet("http-token"))
			if err != nil {
				return err
			}
			notify := c.String("notify-url")
			if err := checkNotifyURL(notify); err != nil {
				return err
			}
			var ln net.Listener
			if addr := c.String("http-addr"); addr != "" {
				var lc net.ListenConfig
				if ln, err = lc.Listen(c.Context, "tcp", addr); err != nil {
					return usagef("--http-addr %s: %v (is the port taken? use another, e.g. 127.0.0.1:8080)", addr, err)
				}
				defer ln.Close()
			}
			r, err := newRefresher(c, e)
			if err != nil {
				return err
			}
			defer r.close()
			w := &watcher{
				e:         e,
				lockPath:  c.String("lock"),
				refresh:   r.run,
				status:    r.status,
				token:     token,
				notifyURL: notify,
				client:    &http.Client{Timeout: notifyTimeout},
				metrics:   &metrics{},
			}
			return w.serve(c.Context, sched, c.String("schedule"), ln)
		},
	}
}

// parseSchedule reads a cron spec: five fields or a descriptor.
func parseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, usagef("watch needs --schedule SPEC: five cron fields (\"0 3 * * *\") or a descriptor (@daily, \"@every 1h\")")
	}
	s, err := cron.ParseStandard(strings.TrimSpace(spec))
	if err != nil {
		return nil, usagef("bad --schedule %q: %v; use five cron fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\") or a descriptor (@daily, @hourly, \"@every 1h\")", spec, err)
	}
	return s, nil
}

// readToken returns the update endpoint's bearer token: the flag's value or
// the file's content. An empty token leaves the endpoint off, but a flag or
// file that was given and is empty is a mistake worth saying.
func readToken(flag, file string, flagSet bool) ([]byte, error) {
	if flag != "" && file != "" {
		return nil, usagef("give --http-token or --http-token-file, not both")
	}
	tok := flag
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, usagef("--http-token-file: %v", err)
		}
		tok = strings.TrimSpace(string(data))
		if tok == "" {
			return nil, usagef("--http-token-file %s is empty: put the token in it, or drop the flag to leave POST /v1/update off", file)
		}
	}
	if flagSet && flag == "" && file == "" {
		return nil, usagef("--http-token is empty: give a token, or drop the flag to leave POST /v1/update off")
	}
	if tok == "" {
		return nil, nil
	}
	return []byte(tok), nil
}

func checkNotifyURL(u string) error {
	if u == "" {
		return nil
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return usagef("bad --notify-url %q: use an http:// or https:// URL", u)
	}
	return nil
}

// status is the status JSON's rows: the same as `tarsup status --format json`.
func (r *refresher) status(ctx context.Context) ([]orchestrator.StatusRow, error) {
	states, err := orchestrator.ObserveAll(ctx, r.hosts)
	if err != nil {
		return nil, err
	}
	return orchestrator.Status(ctx, r.prober, states), nil
}

// notifyTimeout bounds one notification.
const notifyTimeout = 10 * time.Second

// watcher is the long-running side of watch: the schedule, the HTTP
// endpoints and the notifications. It runs one refresh at a time.
type watcher struct {
	e        *env
	lockPath string
	refresh  func(context.Context) (refreshJSON, error)
	status   func(context.Context) ([]orchestrator.StatusRow, error)
	// token is POST /v1/update's bearer token; nil turns the endpoint off.
	token     []byte
	notifyURL string
	client    *http.Client
	metrics   *metrics

	mu      sync.Mutex
	running bool
	runs    sync.WaitGroup
}

// errBusy says a refresh is already under way in this process.
var errBusy = errors.New("a refresh is already running")

// runOnce runs one refresh under the run lock unless one is under way, then
// counts it and notifies. Why ctx is the process's and never a request's: a
// client that hangs up must not cut a refresh short.
func (w *watcher) runOnce(ctx context.Context, trigger string) (refreshJSON, error) {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return refreshJSON{}, errBusy
	}
	if ctx.Err() != nil {
		w.mu.Unlock()
		return refreshJSON{}, fmt.Errorf("shutting down: %w", ctx.Err())
	}
	w.running = true
	w.runs.Add(1)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
		w.runs.Done()
	}()

	log := w.e.log.WithField("trigger", trigger)
	lock, err := orchestrator.AcquireLock(w.lockPath, w.e.getenv)
	if err != nil {
		log.Warn(err)
		return refreshJSON{}, err
	}
	defer func() {
		if err := lock.Release(); err != nil {
			log.Warn(err)
		}
	}()
	rep, err := w.refresh(ctx)
	w.metrics.record(rep, err, time.Now())
	fields := logrus.Fields{"checked": rep.Checked, "tags": rep.Tags, "moved": len(rep.Moved), "upgraded": rep.Upgraded, "rolled_back": rep.RolledBack}
	if err != nil {
		log.WithFields(fields).WithError(err).Error("refresh failed")
	} else {
		log.WithFields(fields).Info(rep.Summary)
	}
	if w.notifyURL != "" && (rep.Changed || err != nil) {
		if nerr := w.notify(ctx, rep); nerr != nil {
			log.Warn(nerr)
		}
	}
	return rep, err
}

// notify POSTs the report. It runs even while shutting down: the run it
// reports has happened.
func (w *watcher) notify(ctx context.Context, rep refreshJSON) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("notify %s: encode the report: %w", w.notifyURL, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.notifyURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify %s: %w", w.notifyURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tarsup")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("notify %s: %w (check --notify-url and that the receiver is up)", w.notifyURL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify %s: the receiver answered %s", w.notifyURL, resp.Status)
	}
	return nil
}

// serve runs the schedule (and the HTTP endpoints when ln is set) until ctx
// ends, then lets the refresh under way finish (the executor finishes or
// rolls back the recreate in progress and starts no new step) and returns nil.
func (w *watcher) serve(ctx context.Context, sched cron.Schedule, spec string, ln net.Listener) error {
	c := cron.New()
	c.Schedule(sched, cron.FuncJob(func() {
		if _, err := w.runOnce(ctx, "schedule"); errors.Is(err, errBusy) {
			w.e.log.Warn("the previous refresh is still running: this turn is skipped")
		}
	}))
	c.Start()
	fields := logrus.Fields{"schedule": spec, "next": sched.Next(time.Now()).Format(time.RFC3339)}
	var srv *http.Server
	srvDone := make(chan error, 1)
	if ln != nil {
		srv = &http.Server{Handler: w.handler(ctx), ReadHeaderTimeout: 10 * time.Second}
		go func() { srvDone <- srv.Serve(ln) }()
		fields["http"] = ln.Addr().String()
		fields["update_endpoint"] = w.token != nil
	}
	w.e.log.WithFields(fields).Info("watching")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-srvDone:
	}
	w.e.log.Info("stopping: waiting for the refresh under way, if any (a recreate in progress finishes or rolls back)")
	<-c.Stop().Done()
	w.runs.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("HTTP server on %s: %w", ln.Addr(), serveErr)
	}
	w.e.log.Info("stopped")
	return nil
}

// handler serves the watch's HTTP endpoints. Runs started by POST /v1/update
// get runCtx, the process's context.
func (w *watcher) handler(runCtx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(rw http.ResponseWriter, r *http.Request) {
		rows, err := w.status(r.Context())
		if err != nil {
			httpError(rw, http.StatusBadGateway, err)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(rows)
	})
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = io.WriteString(rw, w.metrics.text())
	})
	mux.HandleFunc("POST /v1/update", func(rw http.ResponseWriter, r *http.Request) {
		if code, msg := authorize(w.token, r.Header.Get("Authorization")); code != http.StatusOK {
			if code == http.StatusUnauthorized {
				rw.Header().Set("WWW-Authenticate", `Bearer realm="tarsup"`)
			}
			httpError(rw, code, errors.New(msg))
			return
		}
		rep, err := w.runOnce(runCtx, "http")
		var locked *orchestrator.LockedError
		switch {
		case errors.Is(err, errBusy), errors.As(err, &locked):
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
	})
	return mux
}

// authorize checks a request's Authorization header against the token, in
// constant time. Why hash both sides first: subtle.ConstantTimeCompare
// returns early on a length mismatch, which would leak the token's length.
func authorize(token []byte, header string) (int, string) {
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

// metrics are watch's Prometheus metrics, written by hand in the text
// exposition format.
type metrics struct {
	mu          sync.Mutex
	runs        int
	lastRun     time.Time
	lastSuccess bool
	checked     int
	upgraded    int
	rolledBack  int
	failures    int
}

// record counts one finished refresh.
func (m *metrics) record(rep refreshJSON, err error, end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs++
	m.lastRun = end
	m.lastSuccess = err == nil
	m.checked = rep.Checked
	m.upgraded += rep.Upgraded
	m.rolledBack += rep.RolledBack
	if err != nil {
		m.failures++
	}
}

// text renders the metrics. The last-run samples appear only once a run
// ended: a 0 before the first run would read as a failure.
func (m *metrics) text() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	metric := func(name, typ, help, value string, present bool) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		if present {
			fmt.Fprintf(&b, "%s %s\n", name, value)
		}
	}
	ran := m.runs > 0
	success := "0"
	if m.lastSuccess {
		success = "1"
	}
	itoa := strconv.Itoa
	metric("tarsup_last_run_timestamp_seconds", "gauge", "Unix time at which the last refresh ended.", strconv.FormatFloat(float64(m.lastRun.UnixMilli())/1000, 'f', 3, 64), ran)
	metric("tarsup_last_run_success", "gauge", "1 if the last refresh succeeded, 0 if it failed.", success, ran)
	metric("tarsup_containers_checked", "gauge", "Tars containers the last refresh compared with their registry.", itoa(m.checked), ran)
	metric("tarsup_runs_total", "counter", "Refreshes run since start.", itoa(m.runs), true)
	metric("tarsup_containers_upgraded_total", "counter", "Containers recreated on a new image since start.", itoa(m.upgraded), true)
	metric("tarsup_containers_rolled_back_total", "counter", "Containers whose upgrade failed and was rolled back since start.", itoa(m.rolledBack), true)
	metric("tarsup_failures_total", "counter", "Refreshes that failed since start (an upgrade rolled back, an engine or registry unreachable, a refusal).", itoa(m.failures), true)
	return b.String()
}
