package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
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
// smallest literal that makes the image: value interpolate to the new
// reference and nothing else: comments, quoting, order and indentation stay
// as they are. That literal is a part of the image: value itself (a literal
// tag next to ${REGISTRY}), the default of a variable that is unset
// everywhere (${REG:-127.0.0.1:5000}), or the value of a variable in the
// env file that sets it (.env or --env-file: repo:${TAG}, ${IMAGE}). For
// merged -f files it edits the file whose value wins; for a service that
// takes its image from an anchor it edits the anchor. It refuses, with an
// error wrapping ErrCannotRewrite and naming the file, line and variable,
// a value that only the process environment can change and any edit that
// would also change a service not asked for. Services whose image is
// already the one asked for produce no edit. PlanImageEdits does no I/O:
// it works on the files as Load read them, and checks that the edited
// files interpolate to exactly the images asked for and leave every other
// image as it was.
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
		pl.want[name] = newImages[name]
	}
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
	// varNew holds the env file variables the plan changes.
	varNew map[string]varChange
	// want maps each service asked for to its new image.
	want map[string]string
}

func newPlanner(p *Project, sources map[string]source) (*planner, error) {
	pl := &planner{
		p: p, sources: sources,
		docs:      map[string]*yaml.Node{},
		sites:     map[string]imageSite{},
		repl:      map[string][]replacement{},
		expectRaw: map[string]string{},
		envExpect: map[string]map[string]string{},
		varNew:    map[string]varChange{},
		want:      map[string]string{},
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
	return pl.planImage(name, site, svc, newRef, newImages)
}

// varOrigin says where the value of a variable comes from.
type varOrigin struct {
	// envFile is the last env file that sets the variable, "" if none.
	envFile string
	// process is true when the process environment sets it: it then wins
	// over the env files, and tarsup cannot change it.
	process bool
	// value is the variable's value in the loaded project; set is false
	// when it has none.
	value string
	set   bool
	// problem says why the env file's line cannot be edited; "" when it can.
	problem string
}

// editable reports whether tarsup may change the variable: in its env file.
func (o varOrigin) editable() bool { return o.envFile != "" && !o.process && o.problem == "" }

// originOf finds where variable gets its value.
func (pl *planner) originOf(variable string) varOrigin {
	o := varOrigin{}
	o.value, o.set = pl.p.Compose.Environment[variable]
	if _, ok := pl.p.environ[variable]; ok {
		o.process = true
		return o
	}
	envFile, fileVal, err := pl.envFileSetting(variable)
	if err != nil {
		o.problem = err.Error()
		return o
	}
	o.envFile = envFile
	if envFile != "" && (!o.set || o.value != fileVal) {
		o.problem = fmt.Sprintf("%s is %q in %s but %q in the loaded project (set by another .env?); set it in one place", variable, fileVal, envFile, o.value)
	}
	return o
}

// textChange replaces raw[start:end] of an image: value with text.
type textChange struct {
	start, end int
	text       string
}

// planImage finds the smallest literal to change so that the image: value
// of service name interpolates to newRef: a literal part of the value (a
// literal tag next to a variable registry), the default of a variable that
// is unset, or the line of a variable in its env file. Anything that would
// also change a service not asked for is refused.
func (pl *planner) planImage(name string, site imageSite, svc Service, newRef string, newImages map[string]string) error {
	raw := site.node.Value
	where := fmt.Sprintf("%s:%d", site.file, site.node.Line)
	env := pl.env()
	ps, err := imagePieces(raw, mapping(env))
	if err != nil {
		return fmt.Errorf("%w: service %s: image: %q at %s cannot be interpolated: %v", ErrCannotRewrite, name, raw, where, err)
	}
	if got := joinPieces(ps); got != svc.Image {
		return fmt.Errorf("%w: service %s: image: at %s is %q but the loaded project says %q (extends: or include: override it?); set the image where it is defined",
			ErrCannotRewrite, name, where, got, svc.Image)
	}
	origins := make([]varOrigin, len(ps))
	for i, p := range ps {
		if p.kind == pieceVar {
			origins[i] = pl.originOf(p.name)
		}
	}
	vals, ok := solvePieces(ps, newRef, func(i int) bool {
		switch ps[i].kind {
		case pieceText:
			return true
		case pieceVar:
			return !ps[i].fixed && origins[i].editable()
		}
		return false
	})
	if !ok {
		return pl.explain(name, site, ps, origins, newRef)
	}
	texts, vars, err := changesOf(ps, vals)
	if err != nil {
		return fmt.Errorf("%w: service %s: image: %q at %s %v; write the image with each variable once", ErrCannotRewrite, name, raw, where, err)
	}
	newRaw := applyTextChanges(raw, texts)
	// Why again: a variable used twice in the value changes in both places.
	if got, err := substitute(newRaw, withVars(env, vars)); err != nil || got != newRef {
		return fmt.Errorf("%w: service %s: image: %q at %s would become %q, not %s; write the image in %s by hand",
			ErrCannotRewrite, name, raw, where, got, newRef, site.file)
	}
	if err := pl.checkAnchor(name, site, newRef, newImages); err != nil {
		return err
	}
	for _, variable := range sortedKeys(vars) {
		if err := pl.checkShared(name, site, variable, vars[variable], env, newImages); err != nil {
			return err
		}
	}
	if len(texts) > 0 {
		if err := pl.replaceText(name, site, texts, newRaw); err != nil {
			return err
		}
	}
	for _, variable := range sortedKeys(vars) {
		if err := pl.replaceVar(name, variable, vars[variable]); err != nil {
			return err
		}
	}
	return nil
}

// changesOf turns the solved piece values into changes of the raw value's
// text and new values of variables.
func changesOf(ps []piece, vals []string) ([]textChange, map[string]string, error) {
	var texts []textChange
	vars := map[string]string{}
	for i, p := range ps {
		if vals[i] == p.value {
			continue
		}
		switch p.kind {
		case pieceText:
			texts = append(texts, textChange{p.start, p.end, vals[i]})
		case pieceVar:
			if v, dup := vars[p.name]; dup && v != vals[i] {
				return nil, nil, fmt.Errorf("uses %s twice and would need it to be both %q and %q", p.name, v, vals[i])
			}
			vars[p.name] = vals[i]
		}
	}
	return texts, vars, nil
}

// checkAnchor refuses a change of the image of service name when another
// service takes its image from the very same node (an anchor, an alias)
// and is not asked for the same image: whether the text or a variable of
// the value changes, both images change.
func (pl *planner) checkAnchor(name string, site imageSite, newRef string, newImages map[string]string) error {
	where := fmt.Sprintf("%s:%d", site.file, site.node.Line)
	for _, other := range sortedKeys(pl.sites) {
		if other == name || pl.sites[other].node != site.node {
			continue
		}
		if newImages[other] != newRef {
			return fmt.Errorf("%w: service %s takes its image from %s, which service %s shares (through an anchor or alias), and %s is not to change to %s; "+
				"give service %s its own image: line in %s",
				ErrCannotRewrite, name, where, other, other, newRef, name, site.file)
		}
	}
	return nil
}

// checkShared refuses to set variable to value (for service name) when that
// changes the image of a service not asked to change, or when another
// service already needs another value.
func (pl *planner) checkShared(name string, site imageSite, variable, value string, env map[string]string, newImages map[string]string) error {
	o := pl.originOf(variable)
	at := pl.envLine(o.envFile, variable)
	if prev, ok := pl.varNew[variable]; ok && prev.value != value {
		return fmt.Errorf("%w: %s in %s sets the images of services %s and %s, and %s needs %s=%s while %s needs %s=%s; give each service its own variable or a literal image:",
			ErrCannotRewrite, variable, at, prev.service, name, prev.service, variable, prev.value, name, variable, value)
	}
	changed := withVars(env, map[string]string{variable: value})
	for _, other := range sortedKeys(pl.sites) {
		s := pl.sites[other]
		if other == name || s.node == site.node || !strings.Contains(s.node.Value, "$") {
			continue
		}
		before, after := interpolated(s.node.Value, env), interpolated(s.node.Value, changed)
		if before == after {
			continue
		}
		if _, asked := newImages[other]; asked {
			continue // its own plan and verify decide
		}
		return fmt.Errorf("%w: %s in %s sets the image of service %s (%q at %s:%d) and also of service %s (%q at %s:%d), which would become %s; "+
			"give service %s its own variable or a literal image: in %s (%s is set at %s)",
			ErrCannotRewrite, variable, o.envFile, name, site.node.Value, site.file, site.node.Line,
			other, s.node.Value, s.file, s.node.Line, after, name, site.file, variable, at)
	}
	return nil
}

// explain says why no edit of the literals tarsup may change gives
// service name its new image: which variable it would have to change.
func (pl *planner) explain(name string, site imageSite, ps []piece, origins []varOrigin, newRef string) error {
	raw := site.node.Value
	where := fmt.Sprintf("%s:%d", site.file, site.node.Line)
	vals, ok := solvePieces(ps, newRef, func(i int) bool { return ps[i].kind == pieceText || ps[i].kind == pieceVar && !ps[i].fixed })
	if ok {
		for i, p := range ps {
			if p.kind != pieceVar || vals[i] == p.value || origins[i].editable() {
				continue
			}
			o, v := origins[i], p.name
			switch {
			case o.process:
				return fmt.Errorf("%w: service %s: image: %q at %s takes %s from the process environment (%s=%s), which overrides the env files; "+
					"unset %s and set it in %s, or write the value into %s",
					ErrCannotRewrite, name, raw, where, v, v, o.value, v, pl.dotEnvName(), site.file)
			case o.problem != "":
				return fmt.Errorf("%w: service %s: image: %q at %s: %s", ErrCannotRewrite, name, raw, where, o.problem)
			case o.set:
				return fmt.Errorf("%w: service %s: image: %q at %s takes %s=%s from the environment compose sees, not from an env file; set %s in %s, or write the value into %s",
					ErrCannotRewrite, name, raw, where, v, o.value, v, pl.dotEnvName(), site.file)
			default:
				return fmt.Errorf("%w: service %s: image: %q at %s uses %s, which no env file sets (%s); set %s in %s, or write the tag into %s",
					ErrCannotRewrite, name, raw, where, v, strings.Join(pl.p.EnvFiles, ", "), v, pl.dotEnvName(), site.file)
			}
		}
	}
	return fmt.Errorf("%w: service %s: image: %q at %s cannot become %s by changing its literal text or variables set in env files; write the image in %s by hand",
		ErrCannotRewrite, name, raw, where, newRef, site.file)
}

// replaceText plans the bytes that turn service name's image: value into
// newRaw. When the file spells the value byte for byte (a plain scalar, or
// quotes without escapes), only the changed literals are replaced;
// otherwise the whole scalar is written again in its quoting style.
func (pl *planner) replaceText(name string, site imageSite, texts []textChange, newRaw string) error {
	where := fmt.Sprintf("%s:%d", site.file, site.node.Line)
	data := pl.sources[site.file].data
	start, end, err := scalarSpan(data, site.node, site.flow)
	if err != nil {
		return fmt.Errorf("%w: service %s: image: at %s: %v", ErrCannotRewrite, name, where, err)
	}
	var repl []replacement
	if off, ok := valueOffset(data, start, end, site.node.Value); ok && strings.Contains(site.node.Value, "$") && safeInPlace(texts) {
		for _, t := range texts {
			repl = append(repl, replacement{off + t.start, off + t.end, t.text})
		}
	} else {
		text, err := renderScalar(newRaw, site.node.Style)
		if err != nil {
			return fmt.Errorf("%w: service %s: image: at %s: %v", ErrCannotRewrite, name, where, err)
		}
		repl = append(repl, replacement{start, end, text})
	}
	pl.repl[site.file] = append(pl.repl[site.file], repl...)
	for other, s := range pl.sites {
		if s.node == site.node {
			pl.expectRaw[other] = newRaw
		}
	}
	return nil
}

// replaceVar plans the env file edit that sets variable to value.
func (pl *planner) replaceVar(name, variable, value string) error {
	o := pl.originOf(variable)
	envFile := o.envFile
	start, end, quote, err := envValueSpan(pl.sources[envFile].data, variable)
	if err != nil {
		return fmt.Errorf("%w: env file %s: %s: %v; put %s=%s on one line", ErrCannotRewrite, envFile, variable, err, variable, o.value)
	}
	text, err := renderEnvValue(value, quote)
	if err != nil {
		return fmt.Errorf("%w: env file %s: %s: %v", ErrCannotRewrite, envFile, variable, err)
	}
	pl.repl[envFile] = append(pl.repl[envFile], replacement{start, end, text})
	if pl.envExpect[envFile] == nil {
		pl.envExpect[envFile] = map[string]string{}
	}
	pl.envExpect[envFile][variable] = value
	pl.varNew[variable] = varChange{value: value, service: name}
	return nil
}

// envLine names the line of envFile that sets variable ("FILE:LINE"), or
// the file alone when the line cannot be found.
func (pl *planner) envLine(envFile, variable string) string {
	data := pl.sources[envFile].data
	start, _, _, err := envValueSpan(data, variable)
	if err != nil {
		return envFile
	}
	return fmt.Sprintf("%s:%d", envFile, 1+bytes.Count(data[:start], []byte("\n")))
}

// env returns the project's interpolation environment.
func (pl *planner) env() map[string]string {
	return map[string]string(pl.p.Compose.Environment)
}

// varChange is a planned new value of an env file variable.
type varChange struct {
	value   string
	service string // the service that needs it
}

// mapping looks variables up in env.
func mapping(env map[string]string) template.Mapping {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// withVars returns env with vars set.
func withVars(env, vars map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(vars))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// interpolated is raw interpolated with env, or the error it gives, as
// text to compare.
func interpolated(raw string, env map[string]string) string {
	v, err := substitute(raw, env)
	if err != nil {
		return "error: " + err.Error()
	}
	return v
}

// applyTextChanges applies sorted, non-overlapping changes to raw.
func applyTextChanges(raw string, texts []textChange) string {
	var b strings.Builder
	pos := 0
	for _, t := range texts {
		b.WriteString(raw[pos:t.start])
		b.WriteString(t.text)
		pos = t.end
	}
	b.WriteString(raw[pos:])
	return b.String()
}

// safeInPlace reports whether the new texts can go into any scalar style
// as they are: image reference characters only.
func safeInPlace(texts []textChange) bool {
	for _, t := range texts {
		if t.text != "" && !plainImage.MatchString("a"+t.text) {
			return false
		}
	}
	return true
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

// checkOtherUses refuses env file edits that change any value of the
// compose files other than an image: a database's environment, a label, a
// framework's own variable. Why: compose would then recreate that service
// on the next `docker compose up` (the database above all), outside the
// health gate, and tarsup's recreate, which keeps the old container's
// configuration, would not run what the file says.
func (pl *planner) checkOtherUses(oldEnv, newEnv map[string]string) error {
	if len(pl.envExpect) == 0 {
		return nil
	}
	images := map[*yaml.Node]bool{}
	for _, s := range pl.sites {
		images[s.node] = true
	}
	for _, f := range pl.p.Files {
		var found error
		walkScalars(pl.docs[f], func(n *yaml.Node) {
			if found != nil || images[n] || !strings.Contains(n.Value, "$") {
				return
			}
			before, after := interpolated(n.Value, oldEnv), interpolated(n.Value, newEnv)
			if before == after {
				return
			}
			var changed, in []string
			for _, v := range sortedKeys(pl.varNew) {
				changed = append(changed, v+"="+pl.varNew[v].value)
				in = append(in, pl.sites[pl.varNew[v].service].file)
			}
			found = fmt.Errorf("%w: the edit of %s would also change %q at %s:%d from %q to %q, which is not an image: compose would recreate that service on the next up; give the image its own variable or a literal image: in %s",
				ErrCannotRewrite, strings.Join(changed, ", "), n.Value, f, n.Line, before, after, strings.Join(slices.Compact(in), ", "))
		})
		if found != nil {
			return found
		}
	}
	return nil
}

// walkScalars calls fn for every scalar value under n (mapping keys
// excluded; aliases are walked where they are defined).
func walkScalars(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		fn(n)
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			walkScalars(n.Content[i], fn)
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walkScalars(c, fn)
		}
	}
}

// derivedVars returns the values that the edited env files give, once the
// planned values are set, to the variables they define from those values
// (OTHER=${TAG}), where that file is the one that sets them and the process
// environment does not override them.
func (pl *planner) derivedVars() (map[string]string, error) {
	out := map[string]string{}
	for path := range pl.envExpect {
		vars, err := dotenv.UnmarshalBytesWithLookup(pl.sources[path].data, pl.newLookup())
		if err != nil {
			return nil, fmt.Errorf("env file %s: %w", path, err)
		}
		for k, v := range vars {
			if _, process := pl.p.environ[k]; process {
				continue
			}
			if _, planned := pl.envExpect[path][k]; planned {
				continue
			}
			if f, _, err := pl.envFileSetting(k); err == nil && f == path {
				out[k] = v
			}
		}
	}
	return out, nil
}

// newLookup resolves variables as compose will once the planned env file
// edits are written: the process environment first, then the new values,
// then the loaded project's environment.
func (pl *planner) newLookup() dotenv.LookupFn {
	return func(k string) (string, bool) {
		if v, ok := pl.p.environ[k]; ok {
			return v, true
		}
		for _, vars := range pl.envExpect {
			if v, ok := vars[k]; ok {
				return v, true
			}
		}
		return pl.p.Compose.Environment.Resolve(k)
	}
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
	// The images themselves, interpolated as compose does with the new
	// env file values: exactly the new image for the services asked for,
	// the same image for every other service.
	oldEnv := pl.env()
	newEnv := oldEnv
	for _, vars := range pl.envExpect {
		newEnv = withVars(newEnv, vars)
	}
	// Why: compose resolves OTHER=${TAG} in an env file from the new TAG;
	// checked against the old environment, an image that uses OTHER would
	// seem not to move.
	derived, err := pl.derivedVars()
	if err != nil {
		return err
	}
	newEnv = withVars(newEnv, derived)
	for _, name := range sortedKeys(pl.sites) {
		want, asked := pl.want[name]
		if !asked {
			want = interpolated(pl.sites[name].node.Value, oldEnv)
		}
		if got := interpolated(after.sites[name].node.Value, newEnv); got != want {
			var changed []string
			for _, v := range sortedKeys(pl.varNew) {
				changed = append(changed, v+"="+pl.varNew[v].value)
			}
			return fmt.Errorf("%w: after the edits (%s), service %s's image would be %s, not %s; give each service its own variable or a literal image: in %s",
				ErrCannotRewrite, strings.Join(append(changed, "image: values"), ", "), name, got, want, pl.sites[name].file)
		}
	}
	if err := pl.checkOtherUses(oldEnv, newEnv); err != nil {
		return err
	}
	for path, want := range pl.envExpect {
		// The old file as compose reads it once the planned values are
		// set: a variable defined from a changed one moves with it.
		before, err := dotenv.UnmarshalBytesWithLookup(pl.sources[path].data, pl.newLookup())
		if err != nil {
			return fmt.Errorf("env file %s: %w", path, err)
		}
		got, err := dotenv.UnmarshalBytesWithLookup(newSources[path].data, pl.newLookup())
		if err != nil {
			err = fmt.Errorf("env file %s: %w", path, err)
		}
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
