package plan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
)

// Moved is a container whose tag points at another digest than the one it runs.
type Moved struct {
	Host  string `json:"host"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Image string `json:"image"`
	// From is the digest the container runs, To the one its tag points at now.
	From string `json:"from"`
	To   string `json:"to"`
}

// Unchecked is a container a refresh could not compare and leaves alone.
type Unchecked struct {
	Host   string `json:"host"`
	Name   string `json:"name"`
	Image  string `json:"image"`
	Reason string `json:"reason"`
}

// RefreshCheck is what the registry look-ups found. It is plain data.
type RefreshCheck struct {
	// Checked counts the containers compared with their registry.
	Checked int `json:"checked"`
	// Tags counts the distinct repository:tag looked up.
	Tags      int         `json:"tags"`
	Moved     []Moved     `json:"moved"`
	Unchecked []Unchecked `json:"unchecked,omitempty"`
	// Pinned are the containers that run an image named by digest: never
	// looked up, never moved (a pin is the operator's decision).
	Pinned []Pinned `json:"pinned,omitempty"`
	// NewerTag is the newest framework release tag found with ToLatest, ""
	// when there is none; NewerFrom the tag it replaces.
	NewerTag  string `json:"newer_tag,omitempty"`
	NewerFrom string `json:"newer_from,omitempty"`
	// NoTars is true when the engines (Engines) run no Tars container at
	// all; Summary then says so (the JSON report carries it in "summary").
	NoTars  bool     `json:"-"`
	Engines []string `json:"-"`
	// Cooling lists the containers whose tag moved to an image younger
	// than MinAge (--min-age): not taken yet.
	Cooling []Cooling     `json:"cooling,omitempty"`
	MinAge  time.Duration `json:"-"`
	// Window is what the maintenance windows (--window) said; nil without
	// any.
	Window *WindowState `json:"window,omitempty"`
}

// Changes reports whether the check found anything to do.
func (c RefreshCheck) Changes() bool { return len(c.Moved) > 0 || c.NewerTag != "" }

// Summary is the one line a refresh prints, e.g.
// "refresh: 12 containers checked, 3 tags, nothing moved".
func (c RefreshCheck) Summary() string {
	if c.NoTars {
		return "refresh: " + NoTarsFound(c.Engines, "")
	}
	s := fmt.Sprintf("refresh: %d %s checked, %d %s", c.Checked, plural(c.Checked, "container"), c.Tags, plural(c.Tags, "tag"))
	var what []string
	if len(c.Moved) > 0 {
		what = append(what, fmt.Sprintf("%d moved", len(c.Moved)))
	}
	if c.NewerTag != "" {
		what = append(what, fmt.Sprintf("framework %s -> %s", c.NewerFrom, c.NewerTag))
	}
	if n := len(c.Cooling); n > 0 {
		what = append(what, fmt.Sprintf("%d moved but too new for --min-age %s (the first taken from %s)", n, c.MinAge, c.firstUntil()))
	}
	if len(what) == 0 {
		s += ", nothing moved"
	} else {
		s += ", " + strings.Join(what, ", ")
	}
	if n := len(c.Unchecked); n > 0 {
		s += fmt.Sprintf(", %d not comparable (left alone)", n)
	}
	if n := len(c.Pinned); n > 0 {
		s += fmt.Sprintf(", %d pinned by digest (left alone)", n)
	}
	return s + c.Window.summary()
}

// firstUntil is when the first cooling container's image is old enough,
// "unknown" when none has a known creation time.
func (c RefreshCheck) firstUntil() string {
	var first time.Time
	for _, cl := range c.Cooling {
		if !cl.Until.IsZero() && (first.IsZero() || cl.Until.Before(first)) {
			first = cl.Until
		}
	}
	if first.IsZero() {
		return "unknown: no creation time known"
	}
	return first.Format(time.RFC3339)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Line renders one moved container, e.g.
// "tars-node1: latest moved sha256:cccc… -> sha256:dddd…".
func (m Moved) Line(withHost bool) string {
	h := ""
	if withHost {
		h = m.Host + " "
	}
	return fmt.Sprintf("%s%s: %s moved %s -> %s", h, m.Name, TagOf(m.Image), Abbrev(m.From), Abbrev(m.To))
}

// RefreshScope returns the containers a refresh compares: framework, node
// and web containers (never the database), limited to only when given. Like
// Select, it refuses the database named in only and rejects unknown names.
// Unlike Select, it does not refuse REBUILD=true here: that applies when the
// container is about to be recreated, which the upgrade decides. It is pure.
func RefreshScope(states []HostState, only []string) ([]Container, error) {
	scope, missing := InScope(states, only)
	out := scope[:0]
	for _, c := range scope {
		if c.Role == images.RoleDB {
			return nil, fault.Mark(fault.Refused, fmt.Errorf("refused: %s on %s is the Tars database container: tarsup never recreates it; drop it from --only", c.Name, c.Host))
		}
		out = append(out, c)
	}
	if len(missing) > 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("--only %s: no Tars container of that name on any engine (tarsup status lists them)", strings.Join(missing, ", ")))
	}
	return out, nil
}

// CompareDigests decides which containers moved: those whose tag points at a
// digest that none of the container image's digests in its own repository
// is. A container whose image has no digest from its repository (built or
// loaded locally) cannot be compared and is left alone. A failed look-up
// fails the check, naming every failed reference: nothing is changed on a
// partial view. It is pure.
func CompareDigests(scope []Container, digests map[string]images.DigestResult) (RefreshCheck, error) {
	check := RefreshCheck{Moved: []Moved{}}
	keys := map[string]bool{}
	var errs []error
	failed := map[string]bool{}
	for _, c := range scope {
		r, err := images.Parse(c.Image)
		if err != nil {
			check.Unchecked = append(check.Unchecked, Unchecked{Host: c.Host, Name: c.Name, Image: c.Image, Reason: "not an image reference: " + err.Error()})
			continue
		}
		key := r.Key()
		res, ok := digests[key]
		if !ok {
			return check, fmt.Errorf("no look-up result for %s (%s on %s): this is a bug in tarsup", key, c.Name, c.Host)
		}
		keys[key] = true
		if res.Err != nil {
			if !failed[key] {
				failed[key] = true
				errs = append(errs, fmt.Errorf("look up %s: %w", key, res.Err))
			}
			continue
		}
		from, moved, comparable := digestMoved(c, r, res.Digest)
		if !comparable {
			check.Unchecked = append(check.Unchecked, Unchecked{Host: c.Host, Name: c.Name, Image: c.Image,
				Reason: "its image has no digest from " + r.Repository() + " (built or loaded locally?); use tarsup upgrade to move it"})
			continue
		}
		check.Checked++
		if moved {
			check.Moved = append(check.Moved, Moved{Host: c.Host, Name: c.Name, Role: string(c.Role), Image: r.String(), From: from, To: res.Digest})
		}
	}
	check.Tags = len(keys)
	if len(errs) > 0 {
		err := errors.Join(errs...)
		return check, fmt.Errorf("%w\nnothing was changed (limit the refresh with --only to leave those images out)", err)
	}
	return check, nil
}

// IsVersion reports whether a tag is a version tarsup can order (v3.0.16).
func IsVersion(tag string) bool {
	_, ok := images.Compare(tag, tag)
	return ok
}

// NewestFramework picks the newest release tag the framework containers in
// scope can move to: newer than the newest version they run, within that
// major version unless anyMajor, and present in every framework repository
// (mirrors must have it too). tags maps a repository to its tags. It returns
// "" when there is nothing newer or no framework runs a version tag. It is
// pure.
func NewestFramework(scope []Container, tags map[string][]string, anyMajor bool) (tag, from string, err error) {
	var fws []images.Ref
	for _, c := range scope {
		if c.Role != images.RoleFramework {
			continue
		}
		r, err := images.Parse(c.Image)
		if err != nil || !IsVersion(r.Tag()) {
			continue
		}
		fws = append(fws, r)
		if cmp, _ := images.Compare(r.Tag(), from); from == "" || cmp > 0 {
			from = r.Tag()
		}
	}
	if from == "" {
		return "", "", nil
	}
	for _, r := range fws {
		t, ok := images.NewestVersion(tags[r.Repository()], from, !anyMajor)
		if !ok {
			continue
		}
		if cmp, _ := images.Compare(t, tag); tag == "" || cmp > 0 {
			tag = t
		}
	}
	if tag == "" {
		return "", "", nil
	}
	for _, r := range fws {
		if !hasTag(tags[r.Repository()], tag) {
			return "", "", fault.Mark(fault.BadInput, fmt.Errorf("--to-latest: the newest framework release is %s, but %s has no tag %s; the framework must move as one (mirror the tag there, or name a tag with tarsup upgrade --to)", tag, r.Repository(), tag))
		}
	}
	return tag, from, nil
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}
