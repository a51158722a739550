package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/swapname"
	"github.com/urfave/cli/v2"
)

// composeCommand groups the commands that take compose project files as the
// description of a deployment.
func composeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "compose",
		Usage: "status and upgrade of Tars deployments described by docker compose files, on one engine or many",
		Subcommands: []*cli.Command{
			composeStatusCommand(e),
			composeUpgradeCommand(e),
		},
	}
}

// composeProjectFlags say which projects to load, with docker compose's meaning.
func composeProjectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "compose `FILE`; repeat to merge files as docker compose does (default: COMPOSE_FILE, else compose.yaml found as docker compose finds it)"},
		&cli.StringFlag{Name: "project-name", Aliases: []string{"p"}, Usage: "project `NAME` (default: COMPOSE_PROJECT_NAME, name:, the directory's name); one project only"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "env `FILE` for interpolation instead of the project's .env; one project only"},
		&cli.StringSliceFlag{Name: "profile", Usage: "`PROFILE` to enable (default: COMPOSE_PROFILES); applies to every project"},
		&cli.StringSliceFlag{Name: "project-dir", Usage: "project `DIR`; repeat for several projects (one per host), each found as docker compose finds it; with -f, the one project's directory"},
		&cli.StringFlag{Name: "project-list", Usage: "`FILE` listing project directories or compose files, one per line, for several hosts (README: Compose)"},
	}
}

// composeOptions turns the project flags into one compose.Options per project.
func composeOptions(c *cli.Context) ([]compose.Options, error) {
	files := c.StringSlice("file")
	dirs := c.StringSlice("project-dir")
	var opts []compose.Options
	switch {
	case len(files) > 0 && len(dirs) > 1:
		return nil, usagef("-f names one project, and --project-dir is given %d times; give one --project-dir with -f, or list the projects with --project-dir or --project-list alone", len(dirs))
	case len(files) > 0:
		o := compose.Options{Files: files}
		if len(dirs) == 1 {
			o.WorkingDir = dirs[0]
		}
		opts = append(opts, o)
	default:
		for _, d := range dirs {
			opts = append(opts, compose.Options{WorkingDir: d})
		}
	}
	if list := c.String("project-list"); list != "" {
		fromList, err := compose.ReadProjectList(list)
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
	if len(opts) > 1 && (c.String("project-name") != "" || len(c.StringSlice("env-file")) > 0) {
		return nil, usagef("-p and --env-file apply to one project, and %d are named; set name: in each compose file, or .env in each project directory", len(opts))
	}
	for i := range opts {
		if len(opts) == 1 {
			opts[i].ProjectName = c.String("project-name")
			opts[i].EnvFiles = c.StringSlice("env-file")
		}
		opts[i].Profiles = c.StringSlice("profile")
	}
	return opts, nil
}

// composeFleet is the projects of one command and the engine each runs on.
type composeFleet struct {
	projects []*compose.Project
	// hostOf is the name (orchestrator.Host.Name) of each project's engine.
	hostOf map[*compose.Project]string
	specs  []orchestrator.HostSpec
}

// loadFleet loads and validates the projects and works out their engines.
// Warnings go to stderr; any error finding refuses (exit 3), and a project
// that does not load is bad input (exit 2). Nothing is contacted yet.
func loadFleet(c *cli.Context, e *env, refuse bool) (*composeFleet, []compose.Finding, error) {
	if c.String("inventory") != "" {
		return nil, nil, usagef("--inventory does not apply to compose projects: each project names its engine with x-tarsup.host (README: Compose), or --host/DOCKER_HOST serves those that do not")
	}
	opts, err := composeOptions(c)
	if err != nil {
		return nil, nil, err
	}
	projects, err := compose.LoadMany(c.Context, opts)
	if err != nil {
		return nil, nil, fault.Mark(fault.BadInput, fmt.Errorf("%w\nnothing was changed", err))
	}
	var findings, refusals []compose.Finding
	for _, p := range projects {
		for _, f := range compose.Validate(p) {
			findings = append(findings, f)
			if f.Severity == compose.SeverityError {
				refusals = append(refusals, f)
			} else if refuse {
				fmt.Fprintln(e.stderr, f.String())
			}
		}
	}
	if refuse && len(refusals) > 0 {
		lines := make([]string, len(refusals))
		for i, f := range refusals {
			lines[i] = f.String()
		}
		return nil, findings, fault.Mark(fault.Refused, fmt.Errorf("refused by the Tars upgrade rules:\n%s\nnothing was changed", strings.Join(lines, "\n")))
	}
	f := &composeFleet{projects: projects, hostOf: map[*compose.Project]string{}}
	if f.specs, err = f.engines(c, e); err != nil {
		return nil, findings, err
	}
	return f, findings, nil
}

// engines gives each project its engine: x-tarsup.host with x-tarsup.tls
// (or the TLS flags and DOCKER_* variables when the project names no TLS
// files), else --host/DOCKER_HOST/the local socket. Projects on one engine
// share its connection.
func (f *composeFleet) engines(c *cli.Context, e *env) ([]orchestrator.HostSpec, error) {
	var specs []orchestrator.HostSpec
	byURL := map[string]orchestrator.HostSpec{}
	from := map[string]string{} // URL -> the project that named it first, for messages
	add := func(p *compose.Project, s orchestrator.HostSpec) error {
		if err := orchestrator.ValidateHost(s); err != nil {
			return fmt.Errorf("project %s (%s): %w", p.Name, strings.Join(p.Files, ", "), err)
		}
		if prev, ok := byURL[s.URL]; ok {
			if prev.TLS != s.TLS {
				return fault.Mark(fault.BadInput, fmt.Errorf("projects %s and %s reach engine %s with different TLS settings; give them the same x-tarsup.tls files", from[s.URL], p.Name, s.URL))
			}
		} else {
			byURL[s.URL], from[s.URL] = s, p.Name
			specs = append(specs, s)
		}
		f.hostOf[p] = s.Label()
		return nil
	}
	var defaults []orchestrator.HostSpec
	for _, p := range f.projects {
		if p.Host == "" {
			if defaults == nil {
				var err error
				if defaults, err = hostSpecs(c, e); err != nil {
					return nil, err
				}
				if len(defaults) != 1 {
					return nil, usagef("project %s (%s) names no engine (x-tarsup.host) and %d --host values are given; give one --host, or x-tarsup.host in each project", p.Name, strings.Join(p.Files, ", "), len(defaults))
				}
			}
			if err := add(p, defaults[0]); err != nil {
				return nil, err
			}
			continue
		}
		var s orchestrator.HostSpec
		if p.TLS != nil {
			s = orchestrator.HostSpec{URL: p.Host, Insecure: c.Bool("insecure"), TLS: orchestrator.TLSOptions{
				Verify: p.TLS.CA != "", Enabled: true, CACert: p.TLS.CA, Cert: p.TLS.Cert, Key: p.TLS.Key,
			}}
		} else {
			s = orchestrator.HostsFromFlags([]string{p.Host}, flagTLS(c), c.Bool("insecure"), e.getenv)[0]
		}
		if err := add(p, s); err != nil {
			return nil, err
		}
	}
	return specs, nil
}

// scope names the fleet's projects, for messages: "compose project tars".
func (f *composeFleet) scope() string {
	names := make([]string, len(f.projects))
	for i, p := range f.projects {
		names[i] = p.Name
	}
	if len(names) == 1 {
		return "compose project " + names[0]
	}
	return "compose projects " + strings.Join(names, ", ")
}

// flagTLS reads the docker CLI's TLS flags, as hostSpecs does.
func flagTLS(c *cli.Context) orchestrator.TLSOptions {
	t := orchestrator.TLSOptions{Verify: c.Bool("tlsverify"), Enabled: c.Bool("tls"), CACert: c.String("tlscacert"), Cert: c.String("tlscert"), Key: c.String("tlskey")}
	if t.CACert != "" || t.Cert != "" || t.Key != "" {
		t.Enabled = true
	}
	return t
}

// engineEnv gives, per engine name, the variables that point a compose
// binary at that engine (for compose.Hasher).
func (f *composeFleet) engineEnv() map[string][]string {
	out := map[string][]string{}
	for _, s := range f.specs {
		var tls *compose.TLSFiles
		if s.TLS.Enabled || s.TLS.Verify {
			tls = &compose.TLSFiles{CA: s.TLS.CACert, Cert: s.TLS.Cert, Key: s.TLS.Key}
		}
		out[s.Label()] = compose.EngineEnv(s.URL, tls, s.TLS.Verify)
	}
	return out
}

// running lists each engine's observed containers for compose.PlanUpgrade.
func running(states []orchestrator.HostState) map[string][]compose.Running {
	out := map[string][]compose.Running{}
	for _, s := range states {
		for _, c := range s.Containers {
			out[s.Host.Name()] = append(out[s.Host.Name()], compose.Running{Name: c.Name, Image: c.Image, Labels: c.Labels})
		}
	}
	return out
}

// plan makes every project's compose.Upgrade and the container names the
// orchestrator may touch. Why the name check: orchestrator.Request.Only
// selects by name on every engine, so a Tars container of the same name on
// another engine of the fleet, outside the listed projects, would be swept in.
func (f *composeFleet) plan(states []orchestrator.HostState, req compose.ImageRequest) ([]*compose.Upgrade, []string, error) {
	run := running(states)
	var ups []*compose.Upgrade
	claimed := map[string]map[string]bool{} // host -> container names
	var errs []error
	for _, p := range f.projects {
		host := f.hostOf[p]
		u, err := compose.PlanUpgrade(p, host, run[host], req)
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.Name, err))
			continue
		}
		ups = append(ups, u)
		if claimed[host] == nil {
			claimed[host] = map[string]bool{}
		}
		for _, n := range u.Only() {
			claimed[host][n] = true
		}
	}
	if len(errs) > 0 {
		return nil, nil, fault.Mark(fault.BadInput, fmt.Errorf("%w\nnothing was changed", errors.Join(errs...)))
	}
	names := map[string]bool{}
	for _, byName := range claimed {
		for n := range byName {
			names[n] = true
		}
	}
	for _, s := range states {
		for _, c := range s.Containers {
			if names[c.Name] && !claimed[s.Host.Name()][c.Name] {
				errs = append(errs, fmt.Errorf("container %s on %s has the name of a container of the listed projects but belongs to none of them; tarsup selects containers by name across the fleet, so rename one (container_name:) or upgrade the engines separately", c.Name, s.Host.Name()))
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, fault.Mark(fault.BadInput, fmt.Errorf("%w\nnothing was changed", errors.Join(errs...)))
	}
	only := make([]string, 0, len(names))
	for n := range names {
		only = append(only, n)
	}
	sort.Strings(only)
	return ups, only, nil
}

func composeUpgradeCommand(e *env) *cli.Command {
	var flags []cli.Flag
	for _, fl := range upgradeFlags() {
		// Why without --only: the projects' services say which containers.
		if fl.Names()[0] != "only" {
			flags = append(flags, fl)
		}
	}
	return &cli.Command{
		Name:  "upgrade",
		Usage: "upgrade the Tars services of compose projects: rewrite their image: lines, then recreate their containers in Tars order, as one fleet",
		UsageText: "tarsup compose upgrade [-f FILE]... [-p NAME] [--project-dir DIR]... [--project-list FILE] [--to TAG] [--framework-image REF] [--node-image REF] [--dry-run] [...]\n\n" +
			"Each project runs on the engine its x-tarsup.host names, else on --host/DOCKER_HOST.",
		Flags:  append(append(connFlags(), composeProjectFlags()...), flags...),
		Action: func(c *cli.Context) error { return runComposeUpgrade(c, e) },
	}
}

// fileReport is one file's part of a compose upgrade report.
type fileReport struct {
	Path string `json:"path"`
	Diff string `json:"diff"`
	// State is planned (dry run), written, restored, or partly kept (after a
	// failure, the lines of the services that were upgraded stay).
	State string `json:"state"`
	// Kept names the upgraded services whose new image stays in the file
	// when State is partly kept.
	Kept []string `json:"kept,omitempty"`
}

func runComposeUpgrade(c *cli.Context, e *env) error {
	ctx := c.Context
	if err := setupLog(c, e); err != nil {
		return err
	}
	req := compose.ImageRequest{To: c.String("to"), FrameworkImage: c.String("framework-image"), NodeImage: c.String("node-image")}
	fleet, _, err := loadFleet(c, e, true)
	if err != nil {
		return err
	}
	prober, err := orchestrator.NewProber(c.String("probe"), "")
	if err != nil {
		return err
	}
	opts, err := execOptions(c, e, prober, eventPrinter(c, e))
	if err != nil {
		return err
	}
	hosts, err := orchestrator.ConnectAll(ctx, fleet.specs)
	if err != nil {
		return err
	}
	defer orchestrator.CloseAll(hosts)
	x := orchestrator.NewExecutor(hosts, opts)
	dryRun := c.Bool("dry-run")

	// Why recover here and not leave it to orchestrator.Upgrade: the
	// services are matched to their containers by name, and an interrupted
	// upgrade may hold a service's container under a temporary name. The
	// engine locks come first, as in orchestrator.Upgrade (which takes them
	// again: they are this process's own).
	var recovered []orchestrator.Recovery
	if !dryRun {
		unlock, err := x.LockAll(ctx, hosts, opts.LockWait)
		if err != nil {
			return err
		}
		defer unlock()
		if recovered, _, err = x.RecoverPending(ctx, hosts, false); err != nil {
			return err
		}
	}
	states, err := orchestrator.ObserveAll(ctx, hosts)
	if err != nil {
		return err
	}
	ups, only, err := fleet.plan(states, req)
	if err != nil {
		return err
	}
	var edits []compose.FileEdit
	for _, u := range ups {
		for _, w := range u.Warnings {
			fmt.Fprintln(e.stderr, "warning: "+w)
		}
		edits = append(edits, u.Edits...)
	}
	files := make([]fileReport, len(edits))
	for i, ed := range edits {
		files[i] = fileReport{Path: ed.Path, Diff: ed.Diff(), State: "planned"}
	}
	progress := io.Discard
	if c.String("format") == "text" {
		progress = e.stdout
	}
	hasher := &compose.Hasher{Upgrades: ups, DryRun: dryRun, EngineEnv: fleet.engineEnv()}
	uopts := orchestrator.UpgradeOptions{
		Request:  orchestrator.Request{To: req.To, FrameworkImage: req.FrameworkImage, NodeImage: req.NodeImage, Only: only, AllowIPChange: c.Bool("allow-ip-change")},
		DryRun:   dryRun,
		Parallel: c.Int("parallel"),
		Progress: progress,
		TTY:      e.stdoutTTY,
		// Why: so that the project's next `docker compose up` finds the
		// recreated containers up to date (README: Compose).
		Labels: func(ctx context.Context, c orchestrator.Candidate, r orchestrator.Resolved) (map[string]string, error) {
			l, err := hasher.Labels(ctx, c.Host, c.Container.Name, c.Container.Labels, r.Image.ID)
			if err != nil {
				// Why bad input: it comes before any container changed.
				return nil, fault.Mark(fault.BadInput, err)
			}
			return l, nil
		},
	}
	upgrade := func() (orchestrator.UpgradeReport, error) {
		if len(only) == 0 {
			// Why: an empty Only means every container on the engines.
			// The projects' Tars services have no container there.
			rep := orchestrator.UpgradeReport{NoTars: true, Scope: fleet.scope()}
			for _, h := range hosts {
				rep.Engines = append(rep.Engines, h.Name())
			}
			return rep, nil
		}
		return orchestrator.Upgrade(ctx, hosts, x, uopts)
	}

	if dryRun {
		rep, err := upgrade()
		if werr := writeComposeReport(e.stdout, c.String("format"), true, rep, err, files, hashReports(hasher, rep)); werr != nil {
			return werr
		}
		return err
	}

	// The files first: a compose up run by anyone during the upgrade then
	// creates what tarsup is moving to, not the old image.
	if err := compose.Apply(edits); err != nil {
		return fault.Mark(fault.BadInput, fmt.Errorf("write the compose files: %w\nnothing was changed", err))
	}
	for i := range files {
		files[i].State = "written"
		if c.String("format") == "text" {
			fmt.Fprintf(e.stdout, "compose file %s: written\n", files[i].Path)
		}
	}
	rep, runErr := upgrade()
	rep.Recovered = append(recovered, rep.Recovered...)
	if runErr != nil {
		if ferr := settleFiles(ups, edits, rep, files); ferr != nil {
			runErr = errors.Join(runErr, ferr)
		}
	}
	if werr := writeComposeReport(e.stdout, c.String("format"), false, rep, runErr, files, hashReports(hasher, rep)); werr != nil {
		return errors.Join(runErr, werr)
	}
	return runErr
}

// settleFiles makes the files say what runs after a failed upgrade: every
// file as it was when nothing was upgraded (byte for byte), otherwise the
// new image: line only for the services whose every container was upgraded
// (or needed no recreate) and the old one for the others.
func settleFiles(ups []*compose.Upgrade, edits []compose.FileEdit, rep orchestrator.UpgradeReport, files []fileReport) error {
	if len(edits) == 0 {
		return nil
	}
	result := map[string]string{} // host + " " + container -> result of its recreate step
	inPlan := map[string]bool{}
	for _, s := range rep.Plan.Steps() {
		inPlan[s.Host+" "+s.Container.Name] = true
	}
	upgraded := false
	for _, r := range rep.Results {
		k := r.Step.Host + " " + r.Step.Container.Name
		if inPlan[k] {
			result[k] = r.Result
			upgraded = upgraded || r.Result == orchestrator.ResultUpgraded
		}
	}
	var keep []compose.FileEdit
	keptBy := map[string][]string{} // file -> services whose new image: line it keeps
	if upgraded {
		for _, u := range ups {
			var done []string
			for _, s := range u.Services {
				ok := s.NewImage != ""
				for _, n := range s.Containers {
					k := u.Host + " " + n
					if inPlan[k] && result[k] != orchestrator.ResultUpgraded {
						ok = false
					}
				}
				if ok {
					done = append(done, s.Service)
				}
			}
			kept, err := u.EditsFor(done)
			if err != nil {
				return fmt.Errorf("project %s: keep the image: lines of the upgraded services %s: %w; fix the files by hand to name what runs", u.Project.Name, strings.Join(done, ", "), err)
			}
			for _, k := range kept {
				keptBy[k.Path] = append(keptBy[k.Path], done...)
			}
			keep = append(keep, kept...)
		}
	}
	if err := compose.Restore(edits); err != nil {
		return fmt.Errorf("restore the compose files: %w", err)
	}
	if err := compose.Apply(keep); err != nil {
		return fmt.Errorf("write back the image: lines of the services that were upgraded: %w; fix the files by hand to name what runs", err)
	}
	for i := range files {
		files[i].State = "restored"
		if kept := keptBy[files[i].Path]; len(kept) > 0 {
			files[i].State, files[i].Kept = "partly kept", kept
		}
	}
	return nil
}

// composeUpgradeJSON is the machine report of `compose upgrade --format json`.
type composeUpgradeJSON struct {
	Files []fileReport `json:"files"`
	// Upgrade is the report `tarsup upgrade --format json` gives.
	Upgrade json.RawMessage `json:"upgrade"`
	// ConfigHashes are the compose labels set on the recreated containers.
	ConfigHashes []configHashJSON `json:"config_hashes"`
}

// configHashJSON is one recreated container's compose labels.
type configHashJSON struct {
	Project   string `json:"project"`
	Host      string `json:"host"`
	Service   string `json:"service"`
	Container string `json:"container"`
	// ConfigHash is "" in a dry run.
	ConfigHash string `json:"config_hash"`
	ImageID    string `json:"image_id,omitempty"`
	ComputedBy string `json:"computed_by"`
	// Exact is false when the project's own Compose was not found: another
	// Compose version may still recreate the container once.
	Exact bool   `json:"exact"`
	Note  string `json:"note,omitempty"`
}

// hashReports keeps the hasher's reports of the containers the plan recreates.
func hashReports(h *compose.Hasher, rep orchestrator.UpgradeReport) []compose.ConfigHash {
	inPlan := map[string]bool{}
	for _, s := range rep.Plan.Steps() {
		inPlan[s.Host+" "+s.Container.Name] = true
	}
	var out []compose.ConfigHash
	for _, r := range h.Reports() {
		if inPlan[r.Host+" "+r.Container] {
			out = append(out, r)
		}
	}
	return out
}

func writeComposeReport(w io.Writer, format string, dryRun bool, rep orchestrator.UpgradeReport, runErr error, files []fileReport, hashes []compose.ConfigHash) error {
	if format == "json" {
		var buf bytes.Buffer
		if err := writeUpgradeReport(&buf, format, dryRun, rep, runErr); err != nil {
			return err
		}
		out := composeUpgradeJSON{Files: files, Upgrade: buf.Bytes(), ConfigHashes: []configHashJSON{}}
		for _, h := range hashes {
			out.ConfigHashes = append(out.ConfigHashes, configHashJSON{Project: h.Project, Host: h.Host, Service: h.Service, Container: h.Container,
				ConfigHash: h.Hash, ImageID: h.ImageID, ComputedBy: h.By, Exact: h.Exact, Note: h.Note})
		}
		return writeJSON(w, out)
	}
	if err := writeUpgradeReport(w, format, dryRun, rep, runErr); err != nil {
		return err
	}
	warned := map[string]bool{}
	for _, h := range hashes {
		if !dryRun {
			fmt.Fprintf(w, "compose config-hash of %s: %s (%s)\n", h.Container, h.Hash, h.By)
		}
		if k := h.Host + " " + h.Project + " " + h.Note; !h.Exact && !warned[k] {
			warned[k] = true
			fmt.Fprintf(w, "warning: project %s: compose config-hash: %s\n", h.Project, h.Note)
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(w, "compose files: no change")
		return nil
	}
	for _, f := range files {
		switch {
		case dryRun:
			fmt.Fprint(w, f.Diff)
		case len(f.Kept) > 0:
			fmt.Fprintf(w, "compose file %s: %s: the image of %s (upgraded) stays, the rest is restored\n", f.Path, f.State, strings.Join(f.Kept, ", "))
		case f.State != "written": // "written" was said when it happened
			fmt.Fprintf(w, "compose file %s: %s\n", f.Path, f.State)
		}
	}
	return nil
}

func composeStatusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "list the Tars services of compose projects with their containers: image in the file and running, version, state, health",
		UsageText: "tarsup compose status [-f FILE]... [-p NAME] [--env-file FILE] [--profile P]... [--project-dir DIR]... [--project-list FILE] [--format table|json]",
		Flags: append(append(connFlags(), composeProjectFlags()...),
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
		),
		Action: func(c *cli.Context) error { return runComposeStatus(c, e) },
	}
}

// composeStatusRow is one line of `compose status`: a service and one of its
// containers. Its JSON keys are a promise to scripts: add, don't rename.
type composeStatusRow struct {
	Project string `json:"project"`
	Host    string `json:"host"`
	Service string `json:"service"`
	Role    string `json:"role"`
	File    string `json:"file"`
	// Image is the service's image in the file.
	Image string `json:"image"`
	// Container is "" when the service has no container.
	Container    string `json:"container"`
	RunningImage string `json:"running_image"`
	// InStep is true when the container runs the image the file names.
	InStep       bool   `json:"in_step"`
	Version      string `json:"version"`
	State        string `json:"state"`
	Health       string `json:"health"`
	HealthDetail string `json:"health_detail,omitempty"`
}

// composeStatusJSON is the machine report of `compose status --format json`.
type composeStatusJSON struct {
	Services []composeStatusRow `json:"services"`
	Findings []findingJSON      `json:"findings"`
}

type findingJSON struct {
	File     string `json:"file"`
	Service  string `json:"service"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}

func runComposeStatus(c *cli.Context, e *env) error {
	ctx := c.Context
	format := c.String("format")
	if err := setupLog(c, e); err != nil {
		return err
	}
	fleet, findings, err := loadFleet(c, e, false)
	if err != nil {
		return err
	}
	prober, err := orchestrator.NewProber(c.String("probe"), "")
	if err != nil {
		return err
	}
	hosts, err := orchestrator.ConnectAll(ctx, fleet.specs)
	if err != nil {
		return err
	}
	defer orchestrator.CloseAll(hosts)
	states, err := orchestrator.ObserveAll(ctx, hosts)
	if err != nil {
		return err
	}
	rows := fleet.status(ctx, prober, states)
	if format == "json" {
		out := composeStatusJSON{Services: rows, Findings: []findingJSON{}}
		for _, f := range findings {
			out.Findings = append(out.Findings, findingJSON{File: f.File, Service: f.Service, Severity: f.Severity.String(), Rule: f.Rule, Message: f.Message})
		}
		return writeJSON(e.stdout, out)
	}
	for _, f := range findings {
		fmt.Fprintln(e.stderr, f.String())
	}
	return composeStatusTable(e.stdout, rows)
}

// status joins each project's Tars and db services with their containers
// and the containers' health (probed only for the projects' containers).
func (f *composeFleet) status(ctx context.Context, prober *orchestrator.Prober, states []orchestrator.HostState) []composeStatusRow {
	type key struct{ host, name string }
	mine := map[key]bool{}
	byHost := map[string][]orchestrator.Container{}
	for _, s := range states {
		byHost[s.Host.Name()] = s.Containers
	}
	for _, p := range f.projects {
		for _, c := range byHost[f.hostOf[p]] {
			if _, ok := p.ServiceOf(c.Labels); ok {
				mine[key{c.Host, c.Name}] = true
			}
		}
	}
	filtered := make([]orchestrator.HostState, len(states))
	for i, s := range states {
		filtered[i] = orchestrator.HostState{Host: s.Host, APIVersion: s.APIVersion}
		for _, c := range s.Containers {
			if mine[key{c.Host, c.Name}] {
				filtered[i].Containers = append(filtered[i].Containers, c)
			}
		}
	}
	health := map[key]orchestrator.StatusRow{}
	for _, r := range orchestrator.Status(ctx, prober, filtered) {
		health[key{r.Host, r.Name}] = r
	}
	var rows []composeStatusRow
	for _, p := range f.projects {
		host := f.hostOf[p]
		for _, s := range p.Services {
			switch s.Role {
			case images.RoleFramework, images.RoleNode, images.RoleWeb, images.RoleDB:
			default:
				continue
			}
			base := composeStatusRow{Project: p.Name, Host: host, Service: s.Name, Role: string(s.Role), File: s.File, Image: s.Image}
			found := false
			for _, c := range byHost[host] {
				if svc, ok := p.ServiceOf(c.Labels); !ok || svc != s.Name || swapname.IsTemporary(c.Name) {
					continue
				}
				found = true
				r := base
				h := health[key{c.Host, c.Name}]
				r.Container, r.RunningImage, r.InStep = c.Name, c.Image, images.SameImage(c.Image, s.Image)
				r.Version, r.State, r.Health, r.HealthDetail = c.Version, c.State, h.Health, h.HealthDetail
				rows = append(rows, r)
			}
			if !found {
				base.State = "no container"
				rows = append(rows, base)
			}
		}
	}
	return rows
}

func composeStatusTable(w io.Writer, rows []composeStatusRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tHOST\tSERVICE\tROLE\tFILE IMAGE\tCONTAINER\tRUNNING IMAGE\tVERSION\tSTATE\tHEALTH")
	for _, r := range rows {
		running := r.RunningImage
		switch {
		case r.Container == "":
			running = "-"
		case r.InStep:
			running = "(same)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Project, r.Host, r.Service, r.Role, r.Image, or(r.Container, "-"), running, or(r.Version, "-"), r.State, or(r.Health, "-"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
