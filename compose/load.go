package compose

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/compose-spec/compose-go/v2/utils"
	"go.yaml.in/yaml/v3"

	"github.com/tarsup/tarsup/images"
)

// ExtensionKey is the top-level compose extension in which a project names the
// Docker Engine it runs on:
//
//	x-tarsup:
//	  host: tcp://10.0.0.5:2376
//	  tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
const ExtensionKey = "x-tarsup"

// Options says which compose project to load, with the meaning docker
// compose gives to its global flags.
type Options struct {
	// Files are the compose files (-f), merged in order; relative paths are
	// relative to the process's working directory. When empty, COMPOSE_FILE
	// decides, then compose.yaml (and compose.override.yaml) found in
	// WorkingDir or its parents.
	Files []string
	// ProjectName (-p) wins over COMPOSE_PROJECT_NAME and the top-level name:.
	ProjectName string
	// EnvFiles (--env-file) replace the project directory's .env; later files
	// override earlier ones, and the process environment overrides them all.
	EnvFiles []string
	// Profiles (--profile) to enable; when empty, COMPOSE_PROFILES decides.
	Profiles []string
	// WorkingDir (--project-directory); empty means the directory of the first file.
	WorkingDir string
	// Environ is the process environment in os.Environ form ("KEY=value").
	// Nil means os.Environ(); a non-nil empty slice means no variables at all.
	Environ []string
}

// TLSFiles are the client certificate files that reach a project's Docker
// Engine, as absolute paths. An empty field was not given.
type TLSFiles struct {
	// CA is the certificate authority that signed the engine's certificate.
	CA string
	// Cert is the client certificate.
	Cert string
	// Key is the client certificate's private key.
	Key string
}

// Project is a loaded compose project: what tarsup needs from it, and the
// full compose-go model for creating containers.
type Project struct {
	// Name is the project name (com.docker.compose.project).
	Name string
	// Files are the compose files, absolute, in merge order.
	Files []string
	// WorkingDir is the absolute project directory.
	WorkingDir string
	// EnvFiles are the absolute paths of the env files used for interpolation
	// (.env in the project directory, or the --env-file files).
	EnvFiles []string
	// Host is x-tarsup.host, the Docker Engine the project runs on; empty
	// means the caller's default (--host, DOCKER_HOST).
	Host string
	// TLS is x-tarsup.tls, or nil.
	TLS *TLSFiles
	// Services are the active services (profiles applied), sorted by name.
	Services []Service
	// Compose is the compose-go model, interpolated and normalized.
	Compose *types.Project

	// sources holds the bytes and mode of every compose and env file as Load
	// read them; PlanImageEdits works on these and Apply checks against them.
	sources map[string]source
	// environ is the process environment the project was loaded with.
	environ map[string]string
	// loadedWith are the options Load was given: a compose binary asked
	// about the project must see it the same way.
	loadedWith Options
}

// Service is one service of a project, as the upgrade sees it.
type Service struct {
	// Name is the service's key under services:.
	Name string
	// Role is images.Classify of Image and Labels.
	Role images.Role
	// Image is the image reference after interpolation.
	Image string
	// ContainerName is container_name:, or empty.
	ContainerName string
	// Labels are the service's labels (not the container's).
	Labels map[string]string
	// Environment is the container environment after interpolation, env_file
	// included; variables without a value are left out.
	Environment map[string]string
	// Networks are the networks the service joins, sorted by name; empty
	// when NetworkMode is set.
	Networks []ServiceNetwork
	// NetworkMode is network_mode: ("host", "service:x", ...), or empty.
	NetworkMode string
	// File is the last compose file that mentions the service: the one to
	// name in messages about it.
	File string

	// envFrom maps each environment variable to the file that sets it: a
	// compose file for environment:, an env file for env_file:.
	envFrom map[string]string
}

// ServiceNetwork is one network a service joins.
type ServiceNetwork struct {
	// Name is the network's key in the compose file ("default" when none is given).
	Name string
	// DockerName is the network's name in the engine (project_internal, or the external name).
	DockerName string
	// Bridge is true for the bridge driver (driver "" or "bridge").
	Bridge bool
	// External is true for external: true networks.
	External bool
	// IPv4Address is the static ipv4_address, or empty.
	IPv4Address string
	// IPv6Address is the static ipv6_address, or empty.
	IPv6Address string
}

// LoadError is the error Load returns when a project cannot be read: a
// missing, unreadable, malformed or invalid file, an env file that cannot be
// read, a required variable that is not set. Callers map it to exit code 2.
type LoadError struct {
	// Files are the project's compose files, as far as they are known.
	Files []string
	// Err says what is wrong, naming the file when one file is to blame.
	Err error
}

// Error implements error.
func (e *LoadError) Error() string {
	if len(e.Files) == 0 {
		return fmt.Sprintf("load compose project: %v", e.Err)
	}
	return fmt.Sprintf("load compose project %s: %v", strings.Join(e.Files, ", "), e.Err)
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// source is a file as Load read it.
type source struct {
	data []byte
	mode os.FileMode
}

// Service returns the active service called name.
func (p *Project) Service(name string) (Service, bool) {
	for _, s := range p.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Load reads a compose project the way docker compose does: several files
// merged, interpolation from the environment and .env (or EnvFiles), env_file,
// profiles and the project name rules. Every failure is a *LoadError naming
// the file at fault.
func Load(ctx context.Context, opts Options) (*Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := absPaths(opts.Files, "compose file")
	if err != nil {
		return nil, &LoadError{Files: opts.Files, Err: err}
	}
	envFiles, err := absPaths(opts.EnvFiles, "env file")
	if err != nil {
		return nil, &LoadError{Files: files, Err: err}
	}
	po, environ, err := projectOptions(opts, files, envFiles)
	if err != nil {
		return nil, err
	}
	if len(po.ConfigPaths) == 0 {
		wd, _ := po.GetWorkingDir()
		return nil, &LoadError{Err: fmt.Errorf("no compose file (%s) in %s or its parents; pass -f FILE", strings.Join(cli.DefaultFileNames, ", "), wd)}
	}
	files, err = absPaths(po.ConfigPaths, "compose file")
	if err != nil {
		return nil, &LoadError{Files: po.ConfigPaths, Err: err}
	}
	sources, docs, err := readComposeFiles(files)
	if err != nil {
		return nil, err
	}
	cp, err := po.LoadProject(ctx)
	if err != nil {
		return nil, &LoadError{Files: files, Err: fmt.Errorf("%w; fix the file named above", err)}
	}
	envPaths, err := absPaths(po.EnvFiles, "env file")
	if err != nil {
		return nil, &LoadError{Files: files, Err: err}
	}
	for _, f := range envPaths {
		if sources[f], err = readSource(f); err != nil {
			return nil, &LoadError{Files: files, Err: fmt.Errorf("env file %s: %w", f, err)}
		}
	}

	p := &Project{
		Name:       cp.Name,
		Files:      files,
		WorkingDir: cp.WorkingDir,
		EnvFiles:   envPaths,
		Compose:    cp,
		sources:    sources,
		environ:    utils.GetAsEqualsMap(environ),
		loadedWith: opts,
	}
	if p.Host, p.TLS, err = parseExtension(cp, lastFileWithTopKey(files, docs, ExtensionKey)); err != nil {
		return nil, &LoadError{Files: files, Err: err}
	}
	names := make([]string, 0, len(cp.Services))
	for name := range cp.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p.Services = append(p.Services, newService(cp, cp.Services[name], files, docs))
	}
	return p, nil
}

// projectOptions are compose-go's options for a load, and the environment
// it interpolates from.
func projectOptions(opts Options, files, envFiles []string) (*cli.ProjectOptions, []string, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, &LoadError{Files: files, Err: fmt.Errorf("read the working directory: %w", err)}
	}
	// The order is docker compose's (cmd/compose/compose.go): the process
	// environment first (it always wins), then .env or --env-file, which may set
	// COMPOSE_FILE, then file discovery, then .env again from the project
	// directory that discovery may have changed, then profiles and name.
	po, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(opts.WorkingDir),
		cli.WithEnv(environ),
		cli.WithEnv([]string{"PWD=" + cwd}),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(opts.Profiles...),
		cli.WithName(opts.ProjectName),
	)
	if err != nil {
		return nil, nil, &LoadError{Files: files, Err: fmt.Errorf("%w; check --env-file, --project-name and COMPOSE_* variables", err)}
	}
	return po, environ, nil
}

// readComposeFiles reads and parses each compose file, keeping its text
// (for the rewrite) and its YAML (for the lines of the extension key).
func readComposeFiles(files []string) (map[string]source, []*yaml.Node, error) {
	sources := map[string]source{}
	docs := make([]*yaml.Node, len(files))
	for i, f := range files {
		src, err := readSource(f)
		if err != nil {
			return nil, nil, &LoadError{Files: files, Err: fmt.Errorf("compose file %s: %w; check the -f path or COMPOSE_FILE", f, err)}
		}
		doc, err := parseYAML(src.data)
		if err != nil {
			return nil, nil, &LoadError{Files: files, Err: fmt.Errorf("compose file %s is not valid YAML: %w; fix the syntax at that line", f, err)}
		}
		sources[f] = src
		docs[i] = doc
	}
	return sources, docs, nil
}

// newService extracts what tarsup needs from a compose-go service.
func newService(cp *types.Project, sc types.ServiceConfig, files []string, docs []*yaml.Node) Service {
	s := Service{
		Name:          sc.Name,
		Role:          images.Classify(sc.Image, sc.Labels),
		Image:         sc.Image,
		ContainerName: sc.ContainerName,
		Labels:        map[string]string(sc.Labels),
		Environment:   map[string]string(sc.Environment.ToMapping()),
		NetworkMode:   sc.NetworkMode,
		File:          files[len(files)-1],
	}
	for i := len(files) - 1; i >= 0; i-- {
		if serviceNode(docs[i], sc.Name) != nil {
			s.File = files[i]
			break
		}
	}
	for name, cfg := range sc.Networks {
		n := ServiceNetwork{Name: name, DockerName: name, Bridge: true}
		if nc, ok := cp.Networks[name]; ok {
			n.DockerName = nc.Name
			n.Bridge = nc.Driver == "" || nc.Driver == "bridge"
			n.External = bool(nc.External)
		}
		if cfg != nil {
			n.IPv4Address = cfg.Ipv4Address
			n.IPv6Address = cfg.Ipv6Address
		}
		s.Networks = append(s.Networks, n)
	}
	sort.Slice(s.Networks, func(i, j int) bool { return s.Networks[i].Name < s.Networks[j].Name })
	s.envFrom = environmentOrigins(cp, sc, files, docs, s.File)
	return s
}

// environmentOrigins finds, for each variable of a service's environment, the
// file that sets it. Why: a finding about REBUILD must point at the line to
// fix, and that line is often in an env_file, not in the compose file.
func environmentOrigins(cp *types.Project, sc types.ServiceConfig, files []string, docs []*yaml.Node, fallback string) map[string]string {
	from := map[string]string{}
	// env_file: later files override earlier ones.
	for _, ef := range sc.EnvFiles {
		data, err := os.ReadFile(ef.Path)
		if err != nil {
			continue // compose-go already accepted or skipped it (required: false)
		}
		vars, err := dotenv.UnmarshalBytesWithLookup(data, cp.Environment.Resolve)
		if err != nil {
			continue
		}
		for k := range vars {
			from[k] = ef.Path
		}
	}
	// environment: wins over env_file; the last file that sets a key wins.
	for i, doc := range docs {
		for _, k := range environmentKeys(lookup(serviceNode(doc, sc.Name), "environment")) {
			from[k] = files[i]
		}
	}
	for k := range sc.Environment {
		if _, ok := from[k]; !ok {
			from[k] = fallback // set through extends: or include:
		}
	}
	return from
}

// environmentKeys lists the keys of an environment: node, map or list form.
func environmentKeys(n *yaml.Node) []string {
	n = resolve(n)
	if n == nil {
		return nil
	}
	var keys []string
	switch n.Kind {
	case yaml.MappingNode:
		for _, k := range mappingKeys(n) {
			keys = append(keys, k)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item = resolve(item); item != nil && item.Kind == yaml.ScalarNode {
				k, _, _ := strings.Cut(item.Value, "=")
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// parseExtension reads x-tarsup: {host, tls: {ca, cert, key}}. file is the
// compose file that defines it, for messages.
func parseExtension(cp *types.Project, file string) (string, *TLSFiles, error) {
	raw, ok := cp.Extensions[ExtensionKey]
	if !ok || raw == nil {
		return "", nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("compose file %s: %s: %s", file, ExtensionKey, fmt.Sprintf(format, args...))
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return "", nil, bad("must be a mapping such as {host: tcp://10.0.0.5:2376, tls: {ca: ca.pem, cert: cert.pem, key: key.pem}}")
	}
	var host string
	var tls *TLSFiles
	for k, v := range m {
		switch k {
		case "host":
			s, ok := v.(string)
			if !ok || s == "" {
				return "", nil, bad("host must be a Docker host address such as tcp://10.0.0.5:2376")
			}
			if u, err := url.Parse(s); err != nil || u.Scheme == "" {
				return "", nil, bad("host %q is not an address such as tcp://10.0.0.5:2376 or unix:///var/run/docker.sock", s)
			}
			host = s
		case "tls":
			tm, ok := v.(map[string]any)
			if !ok {
				return "", nil, bad("tls must be a mapping {ca: FILE, cert: FILE, key: FILE}")
			}
			tls = &TLSFiles{}
			for tk, tv := range tm {
				s, ok := tv.(string)
				if !ok || s == "" {
					return "", nil, bad("tls.%s must be a file path", tk)
				}
				if !filepath.IsAbs(s) {
					s = filepath.Join(cp.WorkingDir, s)
				}
				switch tk {
				case "ca":
					tls.CA = s
				case "cert":
					tls.Cert = s
				case "key":
					tls.Key = s
				default:
					return "", nil, bad("unknown key tls.%s; use ca, cert and key", tk)
				}
			}
			if (tls.Cert == "") != (tls.Key == "") {
				return "", nil, bad("tls.cert and tls.key go together; set both or neither")
			}
		default:
			return "", nil, bad("unknown key %q; use host and tls", k)
		}
	}
	if tls != nil && host == "" {
		return "", nil, bad("tls is set but host is not; add host: tcp://ADDRESS:2376")
	}
	return host, tls, nil
}

// LoadMany loads several projects, typically one per host, and checks that no
// two of them are the same project on the same engine. It tries every
// project; the error joins one *LoadError per failure.
func LoadMany(ctx context.Context, opts []Options) ([]*Project, error) {
	var (
		projects []*Project
		errs     []error
	)
	for _, o := range opts {
		p, err := Load(ctx, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		projects = append(projects, p)
	}
	type key struct{ host, name string }
	seen := map[key]*Project{}
	for _, p := range projects {
		k := key{p.Host, p.Name}
		if q, ok := seen[k]; ok {
			host := p.Host
			if host == "" {
				host = "the default engine"
			}
			errs = append(errs, &LoadError{Files: append(append([]string{}, q.Files...), p.Files...), Err: fmt.Errorf(
				"projects %s and %s are both project %q on %s; give one a different name (name: or -p) or another x-tarsup.host",
				strings.Join(q.Files, ","), strings.Join(p.Files, ","), p.Name, host)})
			continue
		}
		seen[k] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return projects, nil
}

// ReadProjectList reads a list of projects for a multi-host setup: one project
// directory or compose file per line, relative to the list file's directory;
// blank lines and lines starting with # are skipped, and " #" starts a
// comment. A directory loads as --project-directory (its compose.yaml is
// found as docker compose finds it); a file loads as -f.
func ReadProjectList(path string) ([]Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read project list %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read project list %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	var opts []Options
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		entry := strings.TrimSpace(sc.Text())
		if i := strings.Index(entry, " #"); i >= 0 {
			entry = strings.TrimSpace(entry[:i])
		}
		if entry == "" || strings.HasPrefix(entry, "#") {
			continue
		}
		if !filepath.IsAbs(entry) {
			entry = filepath.Join(dir, entry)
		}
		fi, err := os.Stat(entry)
		if err != nil {
			return nil, fmt.Errorf("project list %s line %d: %w; list an existing project directory or compose file", path, line, err)
		}
		if fi.IsDir() {
			opts = append(opts, Options{WorkingDir: entry})
		} else {
			opts = append(opts, Options{Files: []string{entry}})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read project list %s: %w", path, err)
	}
	if len(opts) == 0 {
		return nil, fmt.Errorf("project list %s names no project; add one project directory or compose file per line", path)
	}
	return opts, nil
}

// absPaths makes paths absolute; what names them in messages.
func absPaths(paths []string, what string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if p == "-" {
			return nil, fmt.Errorf("%s from standard input is not supported: tarsup rewrites the files it loads; pass a path", what)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, p, err)
		}
		out = append(out, abs)
	}
	return out, nil
}

// readSource reads a file and its permission bits.
func readSource(path string) (source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return source{}, err
	}
	if fi.IsDir() {
		return source{}, fmt.Errorf("%s is a directory, not a file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return source{}, err
	}
	return source{data: data, mode: fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)}, nil
}

// lastFileWithTopKey returns the last file that has key at the top level, or
// the last file.
func lastFileWithTopKey(files []string, docs []*yaml.Node, key string) string {
	for i := len(docs) - 1; i >= 0; i-- {
		if lookup(docs[i], key) != nil {
			return files[i]
		}
	}
	return files[len(files)-1]
}
