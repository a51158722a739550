package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"

	"github.com/tarsup/tarsup/refresh"
	"github.com/tarsup/tarsup/watch"
	"github.com/urfave/cli/v2"
)

// watchOptions are `tarsup watch`'s inputs: what each refresh does, and
// the daemon's own (schedule, token, notifications, run lock).
type watchOptions struct {
	refresh refresh.Config
	watch   watch.Options
	// addr is where the HTTP endpoints listen; "" leaves them off.
	addr string
}

// watchFlags are watch's own flags, beside the refresh flags.
func watchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "schedule", Usage: "when to refresh: cron `SPEC` (5 fields) or @daily, @hourly, \"@every 1h\"..."},
		&cli.StringFlag{Name: "http-addr", Usage: "serve GET /v1/status, GET /metrics and POST /v1/update on `ADDR` (e.g. 127.0.0.1:8080); off when empty"},
		&cli.StringFlag{Name: "http-token", EnvVars: []string{"TARSUP_HTTP_TOKEN"}, Usage: "bearer `TOKEN` POST /v1/update requires (without one the endpoint is off); prefer --http-token-file, a flag shows in ps"},
		&cli.StringFlag{Name: "http-token-file", Usage: "read the bearer token from `FILE` (surrounding white space is ignored)"},
	}
}

func watchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "run refresh on a schedule, as a long-running process (it can run in a container with the Docker socket mounted); optionally serve status, metrics and an update endpoint",
		UsageText: "tarsup watch [--host URL]... --schedule SPEC [--http-addr ADDR] [--http-token TOKEN | --http-token-file FILE]\n" +
			"             [--notify URL]... [--notify-url URL] [--notify-template FILE] [--notify-on WHEN] [the refresh flags]\n\n" +
			"   SPEC: five cron fields (\"0 3 * * *\") or a descriptor (@daily, @hourly, \"@every 1h\"), in local time\n" +
			"   unless it starts with CRON_TZ=Zone. SIGTERM and SIGINT wait for the recreate under way to finish or\n" +
			"   roll back, start no new one, and exit 0. With --window, a turn outside every window checks and starts\n" +
			"   nothing, and a refresh runs when the next window opens if steps wait for it; POST /v1/update honours\n" +
			"   the windows, POST /v1/update?force=1 ignores them.",
		Flags: append(append(connFlags(), refreshFlags()...), watchFlags()...),
		Action: func(c *cli.Context) error {
			o, err := watchOptionsFrom(c, e)
			if err != nil {
				return err
			}
			return runWatch(c.Context, o)
		},
	}
}

// watchOptionsFrom reads and checks watch's flags: the daemon's own, then
// those of each refresh.
func watchOptionsFrom(c *cli.Context, e *env) (watchOptions, error) {
	if err := setupLog(c, e); err != nil {
		return watchOptions{}, err
	}
	if err := checkRefreshFlags(c); err != nil {
		return watchOptions{}, err
	}
	sched, err := parseSchedule(c.String("schedule"))
	if err != nil {
		return watchOptions{}, err
	}
	token, err := readToken(c.String("http-token"), c.String("http-token-file"), c.IsSet("http-token"))
	if err != nil {
		return watchOptions{}, err
	}
	n, err := newNotifier(c, e)
	if err != nil {
		return watchOptions{}, err
	}
	cfg, err := refreshConfig(c, e)
	if err != nil {
		return watchOptions{}, err
	}
	// Each turn ends with every container's update state, for /metrics
	// and /v1/status.
	cfg.Updates = true
	return watchOptions{refresh: cfg, addr: c.String("http-addr"), watch: watch.Options{
		Schedule: sched, Spec: c.String("schedule"), Token: token, Notifier: n,
		LockPath: c.String("lock"), Getenv: e.getenv, Log: e.log,
	}}, nil
}

// runWatch listens (when asked), connects to the engines and runs the
// daemon until ctx ends.
func runWatch(ctx context.Context, o watchOptions) error {
	if o.addr != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", o.addr)
		if err != nil {
			return usagef("--http-addr %s: %v (is the port taken? use another, e.g. 127.0.0.1:8080)", o.addr, err)
		}
		defer ln.Close()
		o.watch.Listener = ln
	}
	r, err := refresh.Open(ctx, o.refresh)
	if err != nil {
		return err
	}
	defer r.Close()
	o.watch.Refresh, o.watch.RefreshForced, o.watch.Status = r.Run, r.RunForced, r.Status
	o.watch.Windows = o.refresh.Refresh.Windows.Strings()
	return watch.Run(ctx, o.watch)
}

// parseSchedule reads --schedule (watch.ParseSchedule).
func parseSchedule(spec string) (watch.Schedule, error) {
	s, err := watch.ParseSchedule(spec)
	switch {
	case errors.Is(err, watch.ErrNoSchedule):
		return nil, usagef("watch needs --schedule SPEC: five cron fields (\"0 3 * * *\") or a descriptor (@daily, \"@every 1h\")")
	case err != nil:
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
