package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/distribution/reference"
	"gopkg.in/yaml.v3"
)

// ErrCannotRewrite is wrapped by the errors PlanImageEdits returns when it
// cannot change an image without changing something else, or cannot find
// where the image is set; the message names the file and the fix.
var ErrCannotRewrite = errors.New("cannot rewrite the image")

// FileEdit is a planned change of one file: the bytes Load read and the
// bytes to write. Apply writes New, Restore writes Old back.
type FileEdit struct {
	// Path is the absolute path of the file.
	Path string
	// Old is the content as Load read it; Restore writes it back.
	Old []byte
	// New is the content to write; Apply writes it.
	New []byte
	// Mode is the file's permission bits, kept by Apply and Restore.
	Mode os.FileMode
}

// Diff returns the unified diff (3 lines of context) from Old to New, with
// Path in the ---/+++ headers; "" when they are equal.
func (e FileEdit) Diff() string {
	return unifiedDiff(e.Path, e.Path, e.Old, e.New, 3)
}

// PlanImageEdits plans the file changes that set each service's image to
// newImages[service] (service name -> new image reference), changing the
// bytes of the image: values and nothing else: comments, quoting, order and
// indentation stay as they are. For merged -f files it edits the file whose
// value wins; for a service that takes its image from an anchor it edits the
// anchor; for an image whose whole tag is one variable set in an env file
// (image: tarscloud/framework:${TARS_VERSION}) it edits that variable's line
// in the env file. It refuses, with an error wrapping ErrCannotRewrite, any
// edit that would also change a service not asked for. Services whose image
// is already the one asked for produce no edit. PlanImageEdits does no I/O:
// it works on the files as Load read them.
func PlanImageEdits(p *Project, newImages map[string]string) ([]FileEdit, error) {
	pl, err := newPlanner(p, p.sources)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(newImages))
	for name := range newImages {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := pl.plan(name, newImages); err != nil {
			return nil, err
		}
	}
	return pl.edits()
}

// imageSite is where a service's image value lives.
type imageSite struct {
	file string
	node *yaml.Node // the scalar holding the value (aliases resolved)
	flow bool       // the scalar sits in a flow mapping ({image: x, ...})
}

// replacement replaces data[start:end] with text.
type replacement struct {
	start, end int
	text       string
}

// planner accumulates the replacements of one PlanImageEdits call.
type planner struct {
	p       *Project
	sources map[string]source
	docs    map[string]*yaml.Node
	// sites holds the winning image site of every service any compose file
	// names, active or not: a shared anchor or variable must not change a
	// service that a profile hides today.
	sites map[string]imageSite
	repl  map[string][]replacement
	// expectRaw is the image: text each service must have after the edits of
	// the compose files; envExpect the value each edited variable must have
	// in its env file.
	expectRaw map[string]string
	envExpect map[string]map[string]string
}

func newPlanner(p *Project, sources map[string]source) (*planner, error) {
	pl := &planner{
		p: p, sources: sources,
		docs:      map[string]*yaml.Node{},
		sites:     map[string]imageSite{},
		repl:      map[string][]replacement{},
		expectRaw: map[string]string{},
		envExpect: map[string]map[string]string{},
	}
	names := map[string]bool{}
	for _, f := range p.Files {
		src, ok := sources[f]
		if !ok {
			return nil, fmt.Errorf("compose file %s was not read by Load; load the project again", f)
		}
		doc, err := parseYAML(src.data)
		if err != nil {
			return nil, fmt.Errorf("compose file %s is not valid YAML: %w", f, err)
		}
		pl.docs[f] = doc
		for _, name := range serviceNames(doc) {
			names[name] = true
		}
	}
	for name := range names {
		// The last file that sets image: for the service wins, as in
		// compose's merge.
		for i := len(p.Files) - 1; i >= 0; i-- {
			f := p.Files[i]
			n := lookup(serviceNode(pl.docs[f], name), "image")
			if n == nil {
				continue
			}
			pl.sites[name] = imageSite{file: f, node: n, flow: inFlowMapping(pl.docs[f], n)}
			break
		}
	}
	return pl, nil
}

// plan adds the replacements that give service name its new image.
func (pl *planner) plan(name string, newImages map[string]string) error {
	newRef := newImages[name]
	svc, ok := pl.p.Service(name)
	if !ok {
		return fmt.Errorf("%w: service %q is not an active service of project %s (%s); check the name and --profile", ErrCannotRewrite, name, pl.p.Name, strings.Join(pl.p.Files, ", "))
	}
	if _, err := reference.ParseNormalizedNamed(newRef); err != nil {
		return fmt.Errorf("%w: new image %q for service %s is not a valid image reference: %v", ErrCannotRewrite, newRef, name, err)
	}
	if svc.Image == newRef {
		return nil
	}
	site, ok := pl.sites[name]
	if !ok || site.node.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w: service %s has no image: line in %s (is it set through extends: or include:?); add image: %s to the service in %s",
			ErrCannotRewrite, name, strings.Join(pl.p.Files, ", "), svc.Image, svc.File)
	}
	if strings.Contains(site.node.Value, "$") {
		return pl.planVariable(name, site, svc, newRef, newImages)
	}
	return pl.planLiteral(name, site, svc, newRef, newImages)
}

// planLiteral replaces the image scalar itself.
func (pl *planner) planLiteral(name string, site imageSite, svc Service, newRef string, newImages map[string]string) error {
	where := fmt.Sprintf("%s:%d", site.file, site.node.Line)
	if site.node.Value != svc.Image {
		return fmt.Errorf("%w: service %s: image: at %s is %q but the loaded project says %q (extends: or include: override it?); set the image where it is defined",
			ErrCannotRewrite, name, where, site.node.Value, svc.Image)
	}
	// Every service whose image comes from this very node (an anchor, an
	// alias) changes with it: all of them must be asked for the same image.
	for _, other := range sortedKeys(pl.sites) {
		if other == name || pl.sites[other].node != site.node {
			continue
		}
		if newImages[other] != newRef {
			return fmt.Errorf("%w: service %s takes its image from %s, which service %s shares (through an anchor or alias), and %s is not to change to %s; "+
				"give service %s its own image: line in %s",
				ErrCannotRewrite, name, where, other, other, newRef, name, pl.sites[name].file)
		}
	}
	start, end, err := scalarSpan(pl.sources[site.file].data, site.node, site.flow)
	if err != nil {
		return fmt.Errorf("%w: service %s: image: at %s: %v", ErrCannotRewrite, name, where, err)
	}
	text, err := renderScalar(newRef, site.node.Style)
	if err != nil {
		return fmt.Errorf("%w: service %s: image: at %s: %v", ErrCannotRewrite, name, where, err)
	}
	pl.repl[site.file] = append(pl.repl[site.file], replacement{start, end, text})
	for other, s := range pl.sites {
		if s.node == site.node {
			pl.expectRaw[other] = newRef
		}
	}
	return nil
}

// tagVariable matches an image whose whole tag (or whole value) is one
// variable: "repo:${VAR}", "repo:$VAR", "${VAR:-default}".
var tagVariable = regexp.MustCompile(`^([^$]*)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^${}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))$`)

// planVariable rewrites the env file line that sets the image's tag variable.
func (pl *planner) planVariable(name string, site imageSite, svc Service, newRef string, newImages map[string]string) error {
	raw := site.node.Value
	where := fmt.Sprintf("%s:%d", site.file, site.node.Line)
	m := tagVariable.FindStringSubmatch(raw)
	if m == nil || (m[1] != "" && !strings.HasSuffix(m[1], ":")) {
		return fmt.Errorf("%w: service %s: image: %q at %s is not a repository with one variable as its whole tag; "+
			"write it as repo:${VAR} with VAR in .env, or without variables",
			ErrCannotRewrite, name, raw, where)
	}
	prefix, variable := m[1], m[2]+m[3]
	if !strings.HasPrefix(newRef, prefix) || len(newRef) == len(prefix) {
		return fmt.Errorf("%w: service %s: image: %q at %s sets only the tag through %s, but the new image %s has another repository; change the repository in %s yourself",
			ErrCannotRewrite, name, raw, where, variable, newRef, site.file)
	}
	newVal := newRef[len(prefix):]
	if v, ok := pl.p.environ[variable]; ok {
		return fmt.Errorf("%w: service %s: image: %q at %s takes %s from the process environment (%s=%s), which overrides the env files; "+
			"unset %s and set it in %s, or write the tag into %s",
			ErrCannotRewrite, name, raw, where, variable, variable, v, variable, pl.dotEnvName(), site.file)
	}
	envFile, oldVal, err := pl.envFileSetting(variable)
	if err != nil {
		return fmt.Errorf("%w: service %s: image: %q at %s: %v", ErrCannotRewrite, name, raw, where, err)
	}
	if envFile == "" {
		return fmt.Errorf("%w: service %s: image: %q at %s uses %s, which no env file sets (%s); set %s in %s, or write the tag into %s",
			ErrCannotRewrite, name, raw, where, variable, strings.Join(pl.p.EnvFiles, ", "), variable, pl.dotEnvName(), site.file)
	}
	if cur, ok := pl.p.Compose.Environment[variable]; !ok || cur != oldVal {
		return fmt.Errorf("%w: service %s: %s is %q in %s but %q in the loaded project (set by another .env?); set it in one place",
			ErrCannotRewrite, name, variable, oldVal, envFile, cur)
	}
	// Changing the variable changes every image that uses it: each such
	// service must be asked for exactly the image it would get.
	oldEnv := map[string]string(pl.p.Compose.Environment)
	newEnv := make(map[string]string, len(oldEnv))
	for k, v := range oldEnv {
		newEnv[k] = v
	}
	newEnv[variable] = newVal
	for _, other := range sortedKeys(pl.sites) {
		s := pl.sites[other]
		if !strings.Contains(s.node.Value, "$") {
			continue
		}
		before, err1 := substitute(s.node.Value, oldEnv)
		after, err2 := substitute(s.node.Value, newEnv)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%w: service %s: image: %q at %s cannot be interpolated: %v", ErrCannotRewrite, other, s.node.Value, s.file, errors.Join(err1, err2))
		}
		if before == after {
			continue
		}
		if other == name && after != newRef {
			return fmt.Errorf("%w: service %s: setting %s=%s in %s would give image %s, not %s", ErrCannotRewrite, name, variable, newVal, envFile, after, newRef)
		}
		if newImages[other] != after {
			return fmt.Errorf("%w: %s in %s sets the image of service %s (%s) and also of service %s (%s), which would become %s; "+
				"give service %s its own variable or a literal image: in %s",
				ErrCannotRewrite, variable, envFile, name, raw, other, s.node.Value, after, name, site.file)
		}
	}
	start, end, quote, err := envValueSpan(pl.sources[envFile].data, variable)
	if err != nil {
		return fmt.Errorf("%w: env file %s: %s: %v; put %s=%s on one line", ErrCannotRewrite, envFile, variable, err, variable, oldVal)
	}
	text, err := renderEnvValue(newVal, quote)
	if err != nil {
		return fmt.Errorf("%w: env file %s: %s: %v", ErrCannotRewrite, envFile, variable, err)
	}
	pl.repl[envFile] = append(pl.repl[envFile], replacement{start, end, text})
	if pl.envExpect[envFile] == nil {
		pl.envExpect[envFile] = map[string]string{}
	}
	pl.envExpect[envFile][variable] = newVal
	return nil
}

// envFileSetting returns the last env file that sets variable and the value
// it sets; "" when none does.
func (pl *planner) envFileSetting(variable string) (string, string, error) {
	for i := len(pl.p.EnvFiles) - 1; i >= 0; i-- {
		f := pl.p.EnvFiles[i]
		vars, err := pl.parseEnv(f, pl.sources[f].data)
		if err != nil {
			return "", "", err
		}
		if v, ok := vars[variable]; ok {
			return f, v, nil
		}
	}
	return "", "", nil
}

// parseEnv parses an env file as compose does, resolving references from
// the project environment.
func (pl *planner) parseEnv(path string, data []byte) (map[string]string, error) {
	vars, err := dotenv.UnmarshalBytesWithLookup(data, pl.p.Compose.Environment.Resolve)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	return vars, nil
}

// dotEnvName names the env file to use in messages.
func (pl *planner) dotEnvName() string {
	if n := len(pl.p.EnvFiles); n > 0 {
		return pl.p.EnvFiles[n-1]
	}
	return pl.p.WorkingDir + string(os.PathSeparator) + ".env"
}

// edits applies the replacements and checks that the new files say exactly
// what was asked: the edited images changed, every other image and every
// other env variable did not.
func (pl *planner) edits() ([]FileEdit, error) {
	newSources := make(map[string]source, len(pl.sources))
	for path, src := range pl.sources {
		newSources[path] = src
	}
	var out []FileEdit
	var order []string
	order = append(order, pl.p.Files...)
	order = append(order, pl.p.EnvFiles...)
	done := map[string]bool{}
	for _, path := range order {
		if done[path] || len(pl.repl[path]) == 0 {
			continue
		}
		done[path] = true
		old := pl.sources[path]
		data, err := applyReplacements(old.data, pl.repl[path])
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCannotRewrite, path, err)
		}
		newSources[path] = source{data: data, mode: old.mode}
		out = append(out, FileEdit{Path: path, Old: old.data, New: data, Mode: old.mode})
	}
	if err := pl.verify(newSources); err != nil {
		return nil, err
	}
	return out, nil
}

// verify re-reads the edited files and compares every image and every
// edited env file with what the plan expects. Why: the edits are byte
// surgery; this is the check that they meant what we think.
func (pl *planner) verify(newSources map[string]source) error {
	after, err := newPlanner(pl.p, newSources)
	if err != nil {
		return fmt.Errorf("%w: the edited files do not parse: %v", ErrCannotRewrite, err)
	}
	for name, s := range pl.sites {
		want, ok := pl.expectRaw[name]
		if !ok {
			want = s.node.Value
		}
		got, ok := after.sites[name]
		if !ok || got.node.Value != want {
			return fmt.Errorf("%w: after the edit, service %s's image: would be %q, not %q; edit %s by hand", ErrCannotRewrite, name, nodeValue(got.node), want, s.file)
		}
	}
	for path, want := range pl.envExpect {
		before, err := pl.parseEnv(path, pl.sources[path].data)
		if err != nil {
			return err
		}
		got, err := pl.parseEnv(path, newSources[path].data)
		if err != nil {
			return fmt.Errorf("%w: the edited %v", ErrCannotRewrite, err)
		}
		for k, v := range before {
			if w, ok := want[k]; ok {
				v = w
			}
			if got[k] != v {
				return fmt.Errorf("%w: after the edit, %s in %s would be %q, not %q; edit the file by hand", ErrCannotRewrite, k, path, got[k], v)
			}
		}
		if len(got) != len(before) {
			return fmt.Errorf("%w: the edit would change the variables %s defines; edit the file by hand", ErrCannotRewrite, path)
		}
	}
	return nil
}

func nodeValue(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// applyReplacements applies non-overlapping replacements; identical ones
// (two services sharing an anchor, both changing) count once.
func applyReplacements(data []byte, repl []replacement) ([]byte, error) {
	rs := append([]replacement(nil), repl...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
	var buf bytes.Buffer
	pos := 0
	for i, r := range rs {
		if i > 0 && r == rs[i-1] {
			continue
		}
		if r.start < pos {
			return nil, fmt.Errorf("two edits overlap at byte %d", r.start)
		}
		buf.Write(data[pos:r.start])
		buf.WriteString(r.text)
		pos = r.end
	}
	buf.Write(data[pos:])
	return buf.Bytes(), nil
}

// substitute interpolates a compose value with env, as compose does.
func substitute(raw string, env map[string]string) (string, error) {
	return template.SubstituteWithOptions(raw, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}, template.WithoutLogging)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
