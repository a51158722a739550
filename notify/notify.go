// Package notify sends the message of a run (upgrade, compose upgrade,
// refresh, a watch turn) to where people read it: chat robots and the
// other services of shoutrrr-style URLs (--notify), and the run's JSON
// report to a receiver (--notify-url). DingTalk, WeCom and Feishu/Lark
// robots are written here, with their message formats and signatures; the
// other services go through github.com/nicholas-fedor/shoutrrr. The text is
// a Go text/template over an Event (--notify-template). A notification that
// fails is logged and never changes the run's outcome. Secrets in the URLs
// (tokens, passwords, signing secrets) never reach a log line or an error:
// sinks are named by Redact, and errors are scrubbed.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/sirupsen/logrus"
)

// Timeout bounds one notification to one receiver.
const Timeout = 10 * time.Second

// On says which runs are notified (--notify-on).
type On struct {
	// Changed: a run that changed something (or would, in a dry run or
	// with --monitor-only). Failed: a run that failed (its exit code is not
	// 0). Always: every run, also one that found nothing to do.
	Changed, Failed, Always bool
}

// DefaultOn is --notify-on's default, the --notify-url behaviour of old:
// a run that changed something or failed.
const DefaultOn = "changed,failed"

// ErrBadOn says a --notify-on value is not one of the words.
var ErrBadOn = errors.New("use changed, failed, always, or changed,failed (the default)")

// ParseOn reads a --notify-on value: changed, failed, always, or a comma
// list of changed and failed.
func ParseOn(s string) (On, error) {
	var on On
	words := strings.Split(s, ",")
	for _, w := range words {
		switch strings.TrimSpace(w) {
		case "changed":
			on.Changed = true
		case "failed":
			on.Failed = true
		case "always":
			if len(words) > 1 {
				return On{}, ErrBadOn
			}
			on.Always = true
		default:
			return On{}, ErrBadOn
		}
	}
	return on, nil
}

// Wants reports whether a run with ev's outcome is notified.
func (o On) Wants(ev Event) bool {
	return o.Always || (o.Changed && ev.Changed) || (o.Failed && ev.Failed)
}

// Config is what a Notifier is built from: the command line's notify flags.
type Config struct {
	// URLs are the --notify URLs: dingtalk://, wecom://, feishu://, lark://,
	// or any scheme shoutrrr knows (slack://, telegram://, smtp://...).
	URLs []string
	// JSONURL receives the run's JSON report (--notify-url); "" for none.
	JSONURL string
	// TemplateFile is the --notify-template file; "" for the default text.
	TemplateFile string
	// On is --notify-on ("" for DefaultOn).
	On string
	// Machine names the machine tarsup runs on in the messages (default:
	// its host name).
	Machine string
	// Log receives a line per failed notification (at error level).
	Log logrus.FieldLogger
	// Client sends the HTTP requests of the robots and of JSONURL
	// (default: one with Timeout); Timeout bounds each notification
	// (default Timeout).
	Client  *http.Client
	Timeout time.Duration
	// Now is the clock of the robots' signatures (default time.Now).
	Now func() time.Time
}

// Notifier sends a run's notifications. A nil *Notifier sends nothing.
type Notifier struct {
	sinks   []sink
	on      On
	tmpl    *template.Template
	machine string
	log     logrus.FieldLogger
	timeout time.Duration
}

// sink is one receiver of notifications.
type sink interface {
	// Name is the receiver's URL with its secrets redacted.
	Name() string
	Send(ctx context.Context, m Message) error
}

// Message is what a sink sends: the rendered title and text, and the event.
type Message struct {
	Title, Text string
	Event       Event
}

// New checks cfg and builds the Notifier: every URL must be one it can
// send to, the template must parse and run. Its errors name the flag.
func New(cfg Config) (*Notifier, error) {
	if cfg.On == "" {
		cfg.On = DefaultOn
	}
	on, err := ParseOn(cfg.On)
	if err != nil {
		return nil, fmt.Errorf("bad --notify-on %q: %w", cfg.On, err)
	}
	tmpl, err := LoadTemplate(cfg.TemplateFile)
	if err != nil {
		return nil, fmt.Errorf("bad --notify-template %s: %w", cfg.TemplateFile, err)
	}
	cfg = withDefaults(cfg)
	n := &Notifier{on: on, tmpl: tmpl, machine: cfg.Machine, log: cfg.Log, timeout: cfg.Timeout}
	for _, raw := range cfg.URLs {
		s, err := newSink(raw, cfg)
		if err != nil {
			return nil, fmt.Errorf("bad --notify %s: %w", Redact(raw), err)
		}
		n.sinks = append(n.sinks, s)
	}
	if cfg.JSONURL != "" {
		s, err := newJSONSink(cfg.JSONURL, cfg.Client)
		if err != nil {
			return nil, fmt.Errorf("bad --notify-url %s: %w", Redact(cfg.JSONURL), err)
		}
		n.sinks = append(n.sinks, s)
	}
	return n, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = Timeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Machine == "" {
		cfg.Machine, _ = os.Hostname()
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		cfg.Log = l
	}
	return cfg
}

// Notify sends ev's message to every receiver, at once, when --notify-on
// wants it. Why ctx loses its cancellation: the run it reports has
// happened, also when the process is stopping (SIGTERM); each send is
// bounded by the timeout instead. Each failure is logged at error level,
// naming the receiver with its secrets redacted; the joined error is
// returned for the caller to ignore: a notification never changes the
// run's exit code.
func (n *Notifier) Notify(ctx context.Context, ev Event) error {
	if n == nil || len(n.sinks) == 0 || !n.on.Wants(ev) {
		return nil
	}
	if ev.Machine == "" {
		ev.Machine = n.machine
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	m, rerr := Render(n.tmpl, ev)
	if rerr != nil {
		n.log.WithError(rerr).Error("--notify-template failed on this run: the message uses the default text")
	}
	ctx = context.WithoutCancel(ctx)
	errs := make([]error, len(n.sinks))
	var wg sync.WaitGroup
	for i, s := range n.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, n.timeout)
			defer cancel()
			if err := s.Send(sctx, m); err != nil {
				errs[i] = fmt.Errorf("notify %s: %w", s.Name(), err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			n.log.WithField("notify", n.sinks[i].Name()).Errorf("%v (the run's exit code is not changed by a failed notification)", err)
		} else {
			n.log.WithField("notify", n.sinks[i].Name()).Debug("notified")
		}
	}
	return errors.Join(errs...)
}

// Receivers names the receivers, secrets redacted (for the log).
func (n *Notifier) Receivers() []string {
	if n == nil {
		return nil
	}
	var out []string
	for _, s := range n.sinks {
		out = append(out, s.Name())
	}
	return out
}
