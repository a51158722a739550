package main

import (
	"strings"

	"github.com/tarsup/tarsup/notify"
	"github.com/urfave/cli/v2"
)

// urlList is a repeatable flag of URLs, each taken whole. Why not a
// StringSliceFlag: it splits its values at commas, and notification URLs
// hold commas (smtp://...?to=a@x,b@y, telegram://...?chats=a,b). A value
// may hold several URLs apart by white space (a URL has none: %20), as
// $TARSUP_NOTIFY does.
type urlList []string

// Set adds the URLs of one value (an empty one stays, to be refused).
func (l *urlList) Set(v string) error {
	urls := strings.Fields(v)
	if len(urls) == 0 {
		urls = []string{v}
	}
	*l = append(*l, urls...)
	return nil
}

// String is the values, for the help page's default (none).
func (l *urlList) String() string { return strings.Join(*l, " ") }

func (l *urlList) values() []string { return *l }

// multiValue is a repeatable flag whose values are each taken whole
// (urlList, cmdList).
type multiValue interface{ values() []string }

// wholeValues are the values of a multiValue flag.
func wholeValues(c *cli.Context, name string) []string {
	if l, ok := c.Generic(name).(multiValue); ok && l != nil {
		return l.values()
	}
	return nil
}

// notifyFlags are the notification flags of every command that recreates
// containers from a plan: upgrade, compose upgrade, refresh, watch.
func notifyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "notify", Value: &urlList{}, EnvVars: []string{"TARSUP_NOTIFY"}, Usage: "after the run, send its message to `URL`: dingtalk://TOKEN?secret=SEC, wecom://KEY, feishu://HOOK_ID?secret=SEC, lark://..., " +
			"or any service of shoutrrr (slack://, teams://, telegram://, discord://, smtp://, gotify://, ntfy://, generic+https://...); repeat for several; " +
			"a failed notification is logged and never changes the exit code; prefer $TARSUP_NOTIFY (URLs apart by spaces): a flag shows in ps (README: Notifications)"},
		&cli.StringFlag{Name: "notify-url", EnvVars: []string{"TARSUP_NOTIFY_URL"}, Usage: "after the run, POST its JSON report (what --format json prints) to `URL` (http:// or https://)"},
		&cli.StringFlag{Name: "notify-template", Usage: "Go text/template `FILE` for the message text ({{define \"title\"}} for its title); README: Notifications lists the fields"},
		&cli.StringFlag{Name: "notify-on", Value: notify.DefaultOn, Usage: "which runs notify (`WHEN`): changed (containers recreated, or would be in a dry run), failed (exit code not 0), always, or changed,failed"},
	}
}

// newNotifier reads the notification flags (checked before the command
// ran, by checkFlags); nil when none is given.
func newNotifier(c *cli.Context, e *env) (*notify.Notifier, error) {
	urls := wholeValues(c, "notify")
	if len(urls) == 0 && c.String("notify-url") == "" {
		return nil, nil
	}
	n, err := notify.New(notify.Config{URLs: urls, JSONURL: c.String("notify-url"), TemplateFile: c.String("notify-template"), On: c.String("notify-on"), Log: e.log})
	if err != nil {
		// A template file that changed since the check, say.
		return nil, usageError{err}
	}
	return n, nil
}

// notifyRule checks the value of a notification flag (rule).
func notifyRule(name string) flagRule {
	return func(c *cli.Context, _ cli.Flag, _ string) error {
		hasTarget := len(wholeValues(c, "notify")) > 0 || c.String("notify-url") != ""
		switch name {
		case "notify":
			for _, u := range wholeValues(c, "notify") {
				if err := notify.CheckURL(u); err != nil {
					return usagef("bad --notify %s: %v", notify.Redact(u), err)
				}
			}
		case "notify-url":
			if u := c.String(name); u != "" {
				if err := notify.CheckJSONURL(u); err != nil {
					return usagef("bad --notify-url %s: %v", notify.Redact(u), err)
				}
			}
		case "notify-template":
			if _, err := notify.LoadTemplate(c.String(name)); err != nil {
				return usagef("bad --notify-template %s: %v", c.String(name), err)
			}
			if len(wholeValues(c, "notify")) == 0 {
				// --notify-url posts the report, not a message.
				return usagef("bad --notify-template %s: it does nothing without --notify URL", c.String(name))
			}
		case "notify-on":
			if _, err := notify.ParseOn(c.String(name)); err != nil {
				return usagef("bad --notify-on %q: %v", c.String(name), err)
			}
			if !hasTarget {
				return usagef("bad --notify-on %q: it does nothing without --notify URL or --notify-url URL", c.String(name))
			}
		}
		return nil
	}
}
