package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The labels docker compose compares with a service of the file when it
// decides whether `up` recreates a container.
const (
	// LabelConfigHash is the hash of the service's configuration (v1 and v2).
	LabelConfigHash = "com.docker.compose.config-hash"
	// LabelImage is the ID of the image the container was created from
	// (Compose v2; `up` recreates when it differs from the local image's).
	LabelImage = "com.docker.compose.image"
	// LabelVersion is the version of the Compose that created the container.
	LabelVersion = "com.docker.compose.version"
)

// ConfigHash is what a compose upgrade sets on one recreated container so
// that the project's next `docker compose up` finds it up to date.
type ConfigHash struct {
	Project   string
	Host      string
	Service   string
	Container string
	// Hash is the new com.docker.compose.config-hash; "" in a dry run.
	Hash string
	// ImageID is the new com.docker.compose.image, "" when it is not set.
	ImageID string
	// By names what computed Hash: "docker-compose 1.29.2",
	// "docker compose 2.40.3", or RuleV2.
	By string
	// Exact is true when a Compose of the major version that created the
	// container computed Hash; otherwise another Compose may still
	// recreate the container once.
	Exact bool
	// Note says why the hash is not exact, or what a dry run leaves open.
	Note string
}

// RuleV2 names the hash ServiceHash computes in process.
const RuleV2 = "compose-go (Compose v2's rule)"

// Runner runs a program with env (os.Environ form) in dir and returns its
// standard output; the error carries its standard error.
type Runner func(ctx context.Context, env []string, dir, name string, args ...string) ([]byte, error)

// Hasher works out, per project, the config-hash the project's own Compose
// expects after the files are rewritten and the new images pulled, and the
// labels that make a recreated container match it. It asks each project's
// Compose once (`config --hash '*'`) and keeps the answers; safe for
// concurrent use.
type Hasher struct {
	// Upgrades are the projects being upgraded.
	Upgrades []*Upgrade
	// EngineEnv holds, per host name (Upgrade.Host), the variables that
	// point a compose binary at that engine (EngineEnv).
	EngineEnv map[string][]string
	// DryRun: the files are not rewritten and nothing is pulled, so nothing
	// is computed; the labels name what will set them.
	DryRun bool
	// Run runs the compose binaries; nil runs them for real.
	Run Runner

	mu      sync.Mutex
	hashes  map[hashKey]*projectHashes
	reports []ConfigHash
}

type hashKey struct {
	project *Upgrade
	major   string
}

// projectHashes is one project's hashes by one Compose.
type projectHashes struct {
	byService map[string]string
	by        string
	exact     bool
	note      string
}

// Labels returns the labels the new container of a project's service gets
// over the ones it copies (nil when the container belongs to none of the
// projects): com.docker.compose.config-hash as the project's Compose computes
// it for the rewritten file, and, on a container that carries it (or when
// Compose v2's rule is used), com.docker.compose.image = newImageID.
// labels are the old container's; newImageID is the pulled target's ID ("" in
// a dry run). It records a ConfigHash for Reports.
func (h *Hasher) Labels(ctx context.Context, host, container string, labels map[string]string, newImageID string) (map[string]string, error) {
	u, service := h.owner(host, labels)
	if u == nil {
		return nil, nil
	}
	major := composeMajor(labels[LabelVersion])
	ph, err := h.projectHashes(ctx, u, major)
	if err != nil {
		return nil, err
	}
	rep := ConfigHash{Project: u.Project.Name, Host: host, Service: service, Container: container,
		By: ph.by, Exact: ph.exact, Note: ph.note}
	out := map[string]string{}
	if h.DryRun {
		out[LabelConfigHash] = "(" + ph.by + " computes it once the files are written)"
	} else {
		hash, ok := ph.byService[service]
		if !ok {
			return nil, fmt.Errorf("config hash of service %s in project %s: %s printed none", service, u.Project.Name, ph.by)
		}
		rep.Hash, out[LabelConfigHash] = hash, hash
	}
	if _, has := labels[LabelImage]; has || ph.by == RuleV2 || major == "2" {
		switch {
		case newImageID != "":
			rep.ImageID, out[LabelImage] = newImageID, newImageID
		case h.DryRun:
			out[LabelImage] = "(the pulled image's ID)"
		}
	}
	h.mu.Lock()
	h.reports = append(h.reports, rep)
	h.mu.Unlock()
	return out, nil
}

// Reports returns a ConfigHash per container Labels was asked about, by
// host and container name.
func (h *Hasher) Reports() []ConfigHash {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]ConfigHash(nil), h.reports...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].Container < out[j].Container
	})
	return out
}

// owner finds the upgrade and service a container belongs to.
func (h *Hasher) owner(host string, labels map[string]string) (*Upgrade, string) {
	for _, u := range h.Upgrades {
		if u.Host != host {
			continue
		}
		if s, ok := u.Project.ServiceOf(labels); ok {
			return u, s
		}
	}
	return nil, ""
}

// composeMajor is the major version in a com.docker.compose.version label:
// "1" or "2" (also for an unknown or missing label: Compose v1 is long gone).
func composeMajor(version string) string {
	if strings.HasPrefix(strings.TrimPrefix(version, "v"), "1.") {
		return "1"
	}
	return "2"
}

func (h *Hasher) projectHashes(ctx context.Context, u *Upgrade, major string) (*projectHashes, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := hashKey{u, major}
	if ph, ok := h.hashes[k]; ok {
		return ph, nil
	}
	if h.hashes == nil {
		h.hashes = map[hashKey]*projectHashes{}
	}
	env := append(u.Project.environ0(), h.EngineEnv[u.Host]...)
	bin, version, findErr := h.find(ctx, env, major)
	ph := &projectHashes{}
	switch {
	case findErr == nil && h.DryRun:
		ph.by, ph.exact = strings.Join(bin, " ")+" "+version, true
	case findErr == nil:
		hashes, err := h.askCompose(ctx, env, bin, u.Project)
		if err == nil {
			ph.byService, ph.by, ph.exact = hashes, strings.Join(bin, " ")+" "+version, true
			break
		}
		findErr = err
		fallthrough
	default:
		ph.by, ph.note = RuleV2, fmt.Sprintf("%v: computed in process with Compose v2.40's rule, so another Compose version may still recreate the container once", findErr)
		if h.DryRun {
			break
		}
		hashes, err := ruleV2Hashes(ctx, u.Project)
		if err != nil {
			return nil, err
		}
		ph.byService = hashes
	}
	h.hashes[k] = ph
	return ph, nil
}

// find looks for the Compose of a major version: v1 is docker-compose 1.x;
// v2 is the docker compose plugin, or a docker-compose that reports 2.x.
func (h *Hasher) find(ctx context.Context, env []string, major string) ([]string, string, error) {
	candidates := [][]string{{"docker-compose"}}
	if major == "2" {
		candidates = [][]string{{"docker", "compose"}, {"docker-compose"}}
	}
	var seen []string
	for _, c := range candidates {
		out, err := h.run(ctx, env, "", c[0], slices.Concat(c[1:], []string{"version", "--short"})...)
		if err != nil {
			continue
		}
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		if strings.HasPrefix(v, major+".") {
			return c, v, nil
		}
		seen = append(seen, strings.Join(c, " ")+" "+v)
	}
	msg := fmt.Sprintf("no Compose v%s on this machine (the containers' %s label names v%s)", major, LabelVersion, major)
	if len(seen) > 0 {
		msg += "; found " + strings.Join(seen, ", ")
	}
	return nil, "", fmt.Errorf("%s", msg)
}

// askCompose runs `config --hash '*'` in the project as it was loaded.
func (h *Hasher) askCompose(ctx context.Context, env, bin []string, p *Project) (map[string]string, error) {
	args := slices.Concat(bin[1:], composeArgs(p), []string{"config", "--hash=*"})
	out, err := h.run(ctx, env, p.WorkingDir, bin[0], args...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", strings.Join(bin, " "), strings.Join(args[len(bin)-1:], " "), err)
	}
	hashes := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			hashes[f[0]] = f[1]
		}
	}
	if len(hashes) == 0 {
		return nil, fmt.Errorf("%s config --hash printed no hash: %q", strings.Join(bin, " "), out)
	}
	return hashes, nil
}

// composeArgs are the global flags that make a compose binary load p as
// Load did.
func composeArgs(p *Project) []string {
	args := []string{"-p", p.Name}
	for _, f := range p.Files {
		args = append(args, "-f", f)
	}
	args = append(args, "--project-directory", p.WorkingDir)
	for _, e := range p.loadedWith.EnvFiles {
		if abs, err := filepath.Abs(e); err == nil {
			e = abs
		}
		args = append(args, "--env-file", e)
	}
	for _, pr := range p.loadedWith.Profiles {
		args = append(args, "--profile", pr)
	}
	return args
}

// environ0 is the process environment the project was loaded with.
func (p *Project) environ0() []string {
	if p.loadedWith.Environ != nil {
		return append([]string(nil), p.loadedWith.Environ...)
	}
	return os.Environ()
}

// ruleV2Hashes loads the project again (the files are rewritten by now) and
// hashes every service with ServiceHash.
func ruleV2Hashes(ctx context.Context, p *Project) (map[string]string, error) {
	again, err := Load(ctx, p.loadedWith)
	if err != nil {
		return nil, fmt.Errorf("config hash of project %s: %w", p.Name, err)
	}
	out := map[string]string{}
	for name, sc := range again.Compose.Services {
		if out[name], err = ServiceHash(sc); err != nil {
			return nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
	}
	return out, nil
}

func (h *Hasher) run(ctx context.Context, env []string, dir, name string, args ...string) ([]byte, error) {
	if h.Run != nil {
		return h.Run(ctx, env, dir, name, args...)
	}
	return RunProgram(ctx, env, dir, name, args...)
}

// RunProgram is the Runner that runs a program for real.
func RunProgram(ctx context.Context, env []string, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// Why the last line: docker-compose 1.x prints a Python traceback,
		// whose last line is the error.
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		return out, fmt.Errorf("%w: %s", err, lines[len(lines)-1])
	}
	return out, nil
}

// EngineEnv returns the variables that point docker-compose (v1 and v2) at
// the engine at url: DOCKER_HOST and, with TLS, DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH. Compose reads the certificates as ca.pem, cert.pem and
// key.pem of one directory; files named otherwise are not passed on (the
// binary then fails and the hash is computed in process instead).
func EngineEnv(url string, tls *TLSFiles, verify bool) []string {
	env := []string{"DOCKER_HOST=" + url, "DOCKER_CONTEXT="}
	if tls == nil || (tls.CA == "" && tls.Cert == "" && tls.Key == "") {
		return append(env, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
	}
	// Why the CA bundles are emptied: python-requests lets them override the
	// engine's CA that docker-compose 1.x passes, and the handshake fails.
	env = append(env, "REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE=")
	if verify {
		env = append(env, "DOCKER_TLS_VERIFY=1")
	}
	dir := ""
	for f, want := range map[string]string{tls.CA: "ca.pem", tls.Cert: "cert.pem", tls.Key: "key.pem"} {
		if f == "" {
			continue
		}
		if filepath.Base(f) != want || (dir != "" && filepath.Dir(f) != dir) {
			return env
		}
		dir = filepath.Dir(f)
	}
	return append(env, "DOCKER_CERT_PATH="+dir)
}
