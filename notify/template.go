package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
)

// DefaultTitle is the title of a message unless the template file defines
// one ({{define "title"}}...{{end}}).
const DefaultTitle = `tarsup {{.Command}} on {{.Machine}}: {{.Status}}{{if .Failed}} (exit {{.ExitCode}}){{end}}`

// DefaultText is the text of a message without --notify-template: what
// changed or failed, container by container, and the exit code.
const DefaultText = `{{.Summary}}
{{if .Steps}}
{{range .Steps}}- {{.Container}} on {{.Host}}: {{.From}} -> {{.To}}{{if eq .From .To}} ({{.FromDigest}} -> {{.ToDigest}}){{end}}: {{.Result}}{{with .Error}} ({{firstLine .}}){{end}}
{{end}}{{end}}
exit {{.ExitCode}}{{if .DryRun}}: a dry run, nothing was changed{{end}}
`

// funcs are the functions a template may call besides text/template's own.
var funcs = template.FuncMap{
	// firstLine is a text's first line (errors carry log lines after it).
	"firstLine": report.FirstLine,
	// join joins strings with a separator: {{join .Names ", "}}.
	"join": func(a []string, sep string) string { return strings.Join(a, sep) },
	// short abbreviates a digest: sha256:0123456789…
	"short": plan.Abbrev,
}

func newTemplate() *template.Template {
	t := template.New("message").Funcs(funcs).Option("missingkey=zero")
	template.Must(t.New("title").Parse(DefaultTitle))
	return t
}

func defaultTemplate() *template.Template {
	return template.Must(newTemplate().Parse(DefaultText))
}

// LoadTemplate reads and checks a --notify-template file ("" is the
// default text): it must parse, and name only fields that exist (it runs
// on a sample event, so a misspelt field is found before the run, not
// after it). A file that only defines "title" keeps the default text.
func LoadTemplate(file string) (*template.Template, error) {
	if file == "" {
		return defaultTemplate(), nil
	}
	data, err := readTemplateFile(file)
	if err != nil {
		return nil, err
	}
	t := newTemplate()
	if _, err := t.Parse(string(data)); err != nil {
		return nil, fmt.Errorf("does not parse: %w (Go text/template; README \"Notifications\" lists the fields)", err)
	}
	if t.Tree == nil || parse.IsEmptyTree(t.Root) {
		template.Must(t.Parse(DefaultText))
	}
	if _, err := execute(t, sampleEvent()); err != nil && misnamed(err) {
		return nil, fmt.Errorf("does not run: %w (README \"Notifications\" lists the fields)", err)
	}
	return t, nil
}

// maxTemplateBytes bounds a template file: a message template is short.
const maxTemplateBytes = 1 << 20

// readTemplateFile reads a template file. Why the checks before reading:
// opening a FIFO blocks until a writer comes, in the kernel, where no
// signal reaches a Go program's handler (tarsup hung, deaf to SIGTERM), and
// a device such as /dev/zero never ends.
func readTemplateFile(file string) ([]byte, error) {
	const want = "give a readable Go text/template file"
	fi, err := os.Stat(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// As before the check: "open FILE: no such file or directory".
			pe.Op = "open"
		}
		return nil, fmt.Errorf("%w: %s", err, want)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): %s", file, fi.Mode().Type(), want)
	}
	if fi.Size() > maxTemplateBytes {
		return nil, fmt.Errorf("%s has %d bytes, more than a message template's %d: %s", file, fi.Size(), maxTemplateBytes, want)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, want)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, want)
	}
	if len(data) > maxTemplateBytes {
		return nil, fmt.Errorf("%s has more than a message template's %d bytes: %s", file, maxTemplateBytes, want)
	}
	return data, nil
}

// misnamed reports whether a template's error on the sample event is a
// mistake in the template itself (a field or function argument that does
// not exist) rather than one of the sample's data (an index out of range, a
// key the sample's report lacks), which a real run may well have.
func misnamed(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "can't evaluate field") || strings.Contains(msg, "wrong number of args")
}

// ErrEmptyMessage says a template gave no text.
var ErrEmptyMessage = errors.New("the template gave an empty text")

// Render runs t over ev: the message's title and text. When t fails on ev
// (or gives no text), the message is the default one and the error says
// why, for the log.
func Render(t *template.Template, ev Event) (Message, error) {
	if t == nil {
		t = defaultTemplate()
	}
	m, err := execute(t, ev)
	if err == nil && m.Text == "" {
		err = ErrEmptyMessage
	}
	if err != nil {
		m, _ = execute(defaultTemplate(), ev)
	}
	return m, err
}

func execute(t *template.Template, ev Event) (Message, error) {
	var title, text bytes.Buffer
	if err := t.ExecuteTemplate(&title, "title", ev); err != nil {
		return Message{}, fmt.Errorf("title: %w", err)
	}
	if err := t.Execute(&text, ev); err != nil {
		return Message{}, fmt.Errorf("text: %w", err)
	}
	return Message{Title: oneLine(title.String()), Text: strings.TrimSpace(text.String()), Event: ev}, nil
}

// oneLine joins a title's lines: a title is one line everywhere.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sampleEvent has every field set, for checking a template before a run.
func sampleEvent() Event {
	ev := Event{
		Command: "upgrade", Machine: "host", Time: time.Unix(0, 0).UTC(), Changed: true, Failed: true,
		ExitCode: 1, Summary: "1 rolled back; failed: x", Error: "x\ny", Upgraded: 0, RolledBack: 1,
		Steps: []Step{{Host: "unix:///var/run/docker.sock", Container: "tars-node", Role: "node", From: "v1", To: "v2",
			FromDigest: "sha256:0", ToDigest: "sha256:1", Result: "rolled back", Error: "x"}},
	}
	ev.SetReport(report.Upgrade{Plan: []report.Step{}})
	return ev.WithStatus()
}
