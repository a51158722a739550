package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/format"
	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// ErrUnknownScheme says a --notify URL's scheme is neither a robot of
// this package nor a service of the library.
var ErrUnknownScheme = errors.New("unknown notification service")

// CheckURL checks a --notify URL without sending anything: its error says
// what is wrong and what to write, and holds no secret of the URL.
func CheckURL(raw string) error {
	_, err := newSink(raw, withDefaults(Config{Machine: "-"}))
	return err
}

// Schemes lists the --notify schemes: the robots of this package, then the
// library's services (which the robots shadow: wecom, lark).
func Schemes() []string {
	var lib []string
	var r router.ServiceRouter
	for _, s := range r.ListServices() {
		if _, ok := robotKinds[s]; !ok {
			lib = append(lib, s)
		}
	}
	sort.Strings(lib)
	return append([]string{"dingtalk", "wecom", "feishu", "lark"}, lib...)
}

// newSink is the receiver of a --notify URL.
func newSink(raw string, cfg Config) (sink, error) {
	u, err := url.Parse(raw)
	if err == nil {
		// Why: u.Query() drops a pair it cannot read (secret=%zz) silently.
		_, err = url.ParseQuery(u.RawQuery)
	}
	if err != nil || u.Scheme == "" {
		return nil, errors.New("not a URL: write SCHEME://..., and %-escape the characters / ? # @ : % & in tokens, secrets and passwords")
	}
	if _, ok := robotKinds[u.Scheme]; ok {
		r, err := parseRobot(u, raw, cfg)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return nil, fmt.Errorf("%w %q: for a JSON POST of the report use --notify-url %s://...; for the message as a webhook, generic+%s://HOST/PATH", ErrUnknownScheme, u.Scheme, u.Scheme, u.Scheme)
	}
	if u.Host == "" && u.Scheme != "logger" {
		// The library takes generic+https://, gotify:// or teams:// and
		// fails only at the send, after the run: a URL without a host
		// names no receiver (logger:// is the library's log, no receiver).
		return nil, fmt.Errorf("%s:// names no receiver: the host (or token@host) goes right after it (README \"Notifications\": its URL formats)", u.Scheme)
	}
	svc, err := libraryService(raw, cfg.Client)
	if err != nil {
		return nil, errors.New(scrub(err.Error(), secretsOf(raw)))
	}
	return &librarySink{svc: svc, name: Redact(raw), secrets: secretsOf(raw), title: takesTitle(svc)}, nil
}

// libraryService initializes the library's service for raw (its router
// keeps the service's own error), and gives it client where the service
// takes one: its timeout then bounds the service's requests too.
func libraryService(raw string, client *http.Client) (types.Service, error) {
	var r router.ServiceRouter
	svc, err := r.Locate(raw)
	switch {
	case errors.Is(err, router.ErrUnknownService):
		scheme, _, _ := strings.Cut(raw, ":")
		scheme, _, _ = strings.Cut(scheme, "+")
		return nil, fmt.Errorf("%w %q: use one of %s (README \"Notifications\")", ErrUnknownScheme, scheme, strings.Join(Schemes(), ", "))
	case err != nil:
		return nil, fmt.Errorf("%w (the library's documentation of the service's URLs says what goes where)", err)
	}
	if setter, ok := svc.(types.HTTPClientSetter); ok && client != nil {
		setter.SetHTTPClient(client)
	}
	return svc, nil
}

// takesTitle reports whether the service has a title parameter: passing
// one to a service without it fails the send.
func takesTitle(svc types.Service) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	pkr := format.NewPropKeyResolver(format.GetServiceConfig(svc))
	_, err := pkr.Get(types.TitleKey)
	return err == nil
}

// librarySink sends through one of the library's services.
type librarySink struct {
	svc     types.Service
	name    string
	secrets []string
	// title: the service takes a title; otherwise it leads the text.
	title bool
}

func (s *librarySink) Name() string { return s.name }

// Send sends m and waits until the service is done or ctx ends. Why a
// goroutine: the library's Send takes no context; the services that take
// an HTTP client have ours, with its timeout, and one of the others (SMTP,
// MQTT) that hangs is left behind.
func (s *librarySink) Send(ctx context.Context, m Message) error {
	text, params := m.Text, types.Params{}
	if s.title {
		params.SetTitle(m.Title)
	} else {
		text = m.Title + "\n\n" + m.Text
	}
	done := make(chan error, 1)
	go func() { done <- s.svc.Send(text, &params) }()
	select {
	case err := <-done:
		if err != nil {
			return errors.New(scrub(err.Error(), s.secrets))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// jsonSink POSTs the run's JSON report (--notify-url).
type jsonSink struct {
	url, name string
	client    *http.Client
	secrets   []string
}

// CheckJSONURL checks a --notify-url: an http:// or https:// URL.
func CheckJSONURL(raw string) error {
	_, err := newJSONSink(raw, nil)
	return err
}

func newJSONSink(raw string, client *http.Client) (*jsonSink, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("use an http:// or https:// URL")
	}
	return &jsonSink{url: raw, name: Redact(raw), client: client, secrets: secretsOf(raw)}, nil
}

func (s *jsonSink) Name() string { return s.name }

// Send POSTs the report, as `--format json` gives it.
func (s *jsonSink) Send(ctx context.Context, m Message) error {
	return PostJSON(ctx, s.client, s.url, m.Event.ReportJSON(), s.secrets)
}

// PostJSON POSTs body (JSON) to target with client; errors name target
// redacted and hold none of secrets.
func PostJSON(ctx context.Context, client *http.Client, target string, body []byte, secrets []string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New(scrub(err.Error(), secrets))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tarsup")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return errors.New(scrub(fmt.Sprintf("POST: %v (check --notify-url and that the receiver is up)", err), secrets))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}
