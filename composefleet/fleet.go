package composefleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// ErrUsage marks a mistake in what the command line asks for (the CLI's
// exit 2 with a pointer to its help), as opposed to a bad file or engine.
var ErrUsage = errors.New("usage")

// usageError marks err with ErrUsage (and bad input, exit 2) without
// changing its message.
type usageError struct{ err error }

func (u usageError) Error() string   { return u.err.Error() }
func (u usageError) Unwrap() []error { return []error{ErrUsage, fault.BadInput, u.err} }

func usagef(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// Projects says which compose projects a command takes, with docker
// compose's meaning of its flags (-f, -p, --env-file, --profile,
// --project-dir) and tarsup's --project-list.
type Projects struct {
	Files       []string
	ProjectName string
	EnvFiles    []string
	Profiles    []string
	Dirs        []string
	// List is a file of project directories or compose files, one a line.
	List string
}

// options turns the project flags into one compose.Options per project.
func (p Projects) options() ([]compose.Options, error) {
	var opts []compose.Options
	switch {
	case len(p.Files) > 0 && len(p.Dirs) > 1:
		return nil, usagef("-f names one project, and --project-dir is given %d times; give one --project-dir with -f, or list the projects with --project-dir or --project-list alone", len(p.Dirs))
	case len(p.Files) > 0:
		o := compose.Options{Files: p.Files}
		if len(p.Dirs) == 1 {
			o.WorkingDir = p.Dirs[0]
		}
		opts = append(opts, o)
	default:
		for _, d := range p.Dirs {
			opts = append(opts, compose.Options{WorkingDir: d})
		}
	}
	if p.List != "" {
		fromList, err := compose.ReadProjectList(p.List)
		if err != nil {
			return nil, fault.Mark(fault.BadInput, err)
		}
		opts = append(opts, fromList...)
	}
	if len(opts) == 0 {
		// As docker compose: COMPOSE_FILE, or compose.yaml in the working
		// directory or its parents.
		opts = append(opts, compose.Options{})
	}
	if len(opts) > 1 && (p.ProjectName != "" || len(p.EnvFiles) > 0) {
		return nil, usagef("-p and --env-file apply to one project, and %d are named; set name: in each compose file, or .env in each project directory", len(opts))
	}
	for i := range opts {
		if len(opts) == 1 {
			opts[i].ProjectName = p.ProjectName
			opts[i].EnvFiles = p.EnvFiles
		}
		opts[i].Profiles = p.Profiles
	}
	return opts, nil
}

// Engines says how projects reach their engines: a project's x-tarsup.host,
// with its x-tarsup.tls or else the TLS flags; a project that names no
// engine runs on the one --host/DOCKER_HOST names.
type Engines struct {
	// Default returns the engines of --host/DOCKER_HOST (else the local
	// socket). It is called only when a project names no engine.
	Default func() ([]engine.HostSpec, error)
	// TLS are the TLS flags, for an x-tarsup.host without x-tarsup.tls
	// (the DOCKER_* variables fill in what they leave empty).
	TLS      engine.TLSOptions
	Insecure bool
	Getenv   func(string) string
}

// Fleet is the projects of one command and the engine each runs on.
type Fleet struct {
	Projects []*compose.Project
	// Specs are the distinct engines, in the order the projects name them.
	Specs []engine.HostSpec
	// hostOf is the name (engine.Host.Name) of each project's engine.
	hostOf map[*compose.Project]string
}

// loadProjects loads and validates the projects. A project that does not
// load is bad input (exit 2). Nothing is contacted.
func loadProjects(ctx context.Context, p Projects) ([]*compose.Project, []compose.Finding, error) {
	opts, err := p.options()
	if err != nil {
		return nil, nil, err
	}
	projects, err := compose.LoadMany(ctx, opts)
	if err != nil {
		return nil, nil, fault.Mark(fault.BadInput, fmt.Errorf("%w\nnothing was changed", err))
	}
	var findings []compose.Finding
	for _, pr := range projects {
		findings = append(findings, compose.Validate(pr)...)
	}
	return projects, findings, nil
}

// refuse returns the refusal (exit 3) of every finding of error severity,
// and writes the others to warn.
func refuse(findings []compose.Finding, warn io.Writer) error {
	var lines []string
	for _, f := range findings {
		if f.Severity == compose.SeverityError {
			lines = append(lines, f.String())
		} else {
			fmt.Fprintln(warn, f.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fault.Mark(fault.Refused, fmt.Errorf("refused by the Tars upgrade rules:\n%s\nnothing was changed", strings.Join(lines, "\n")))
}

// newFleet gives each project its engine. Projects on one engine share
// its connection, and must reach it with the same TLS settings.
func newFleet(projects []*compose.Project, eng Engines) (*Fleet, error) {
	f := &Fleet{Projects: projects, hostOf: map[*compose.Project]string{}}
	byURL := map[string]engine.HostSpec{}
	from := map[string]string{} // URL -> the project that named it first, for messages
	var defaults []engine.HostSpec
	for _, p := range projects {
		var s engine.HostSpec
		switch {
		case p.Host == "" && defaults == nil:
			var err error
			if defaults, err = eng.Default(); err != nil {
				return nil, err
			}
			if len(defaults) != 1 {
				return nil, usagef("project %s (%s) names no engine (x-tarsup.host) and %d --host values are given; give one --host, or x-tarsup.host in each project", p.Name, strings.Join(p.Files, ", "), len(defaults))
			}
			s = defaults[0]
		case p.Host == "":
			s = defaults[0]
		default:
			s = eng.spec(p)
		}
		if err := engine.ValidateHost(s); err != nil {
			return nil, fmt.Errorf("project %s (%s): %w", p.Name, strings.Join(p.Files, ", "), err)
		}
		if prev, ok := byURL[s.URL]; !ok {
			byURL[s.URL], from[s.URL] = s, p.Name
			f.Specs = append(f.Specs, s)
		} else if prev.TLS != s.TLS {
			return nil, fault.Mark(fault.BadInput, fmt.Errorf("projects %s and %s reach engine %s with different TLS settings; give them the same x-tarsup.tls files", from[s.URL], p.Name, s.URL))
		}
		f.hostOf[p] = s.Label()
	}
	return f, nil
}

// spec is how project p, which names its engine, reaches it: with its own
// TLS files, else with the TLS flags and DOCKER_* variables.
func (e Engines) spec(p *compose.Project) engine.HostSpec {
	if p.TLS == nil {
		return engine.HostsFromFlags([]string{p.Host}, e.TLS, e.Insecure, e.Getenv)[0]
	}
	return engine.HostSpec{URL: p.Host, Insecure: e.Insecure, TLS: engine.TLSOptions{
		Verify: p.TLS.CA != "", Enabled: true, CACert: p.TLS.CA, Cert: p.TLS.Cert, Key: p.TLS.Key,
	}}
}

// HostOf names the engine project p runs on.
func (f *Fleet) HostOf(p *compose.Project) string { return f.hostOf[p] }

// scope names the fleet's projects, for messages: "compose project tars".
func (f *Fleet) scope() string {
	names := make([]string, len(f.Projects))
	for i, p := range f.Projects {
		names[i] = p.Name
	}
	if len(names) == 1 {
		return "compose project " + names[0]
	}
	return "compose projects " + strings.Join(names, ", ")
}

// engineEnv gives, per engine name, the variables that point a compose
// binary at that engine (for compose.Hasher).
func (f *Fleet) engineEnv() map[string][]string {
	out := map[string][]string{}
	for _, s := range f.Specs {
		var tls *compose.TLSFiles
		if s.TLS.Enabled || s.TLS.Verify {
			tls = &compose.TLSFiles{CA: s.TLS.CACert, Cert: s.TLS.Cert, Key: s.TLS.Key}
		}
		out[s.Label()] = compose.EngineEnv(s.URL, tls, s.TLS.Verify)
	}
	return out
}
