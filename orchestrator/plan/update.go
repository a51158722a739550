package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tarsup/tarsup/images"
)

// The values of status's update column (JSON "update"), and of watch's
// per-container metrics. A promise to operators' scripts: add, never
// rename. A framework with a newer release shows UpdateNewer's value.
const (
	// UpdateNone: the container runs what its tag points at, and (a
	// framework) no newer release tag is out.
	UpdateNone = "none"
	// UpdateMoved: its tag points at another digest than the one it runs.
	UpdateMoved = "digest moved"
	// UpdateUnknown: no answer to compare with (the registry did not
	// answer, the tag is missing, the image has no digest from its
	// repository).
	UpdateUnknown = "unknown"
	// UpdatePinned: it runs an image named by digest (repo@sha256:…,
	// repo:tag@sha256:…): the operator's choice, which refresh and watch
	// never move.
	UpdatePinned = "pinned"
)

// UpdateNewer is the update value of a framework for which a newer release
// tag is out: "newer tag v3.0.16".
func UpdateNewer(tag string) string { return "newer tag " + tag }

// Update is one container's update state and what it rests on.
type Update struct {
	// State is one of the Update values, or "" when nothing was looked up
	// (status --offline, the database).
	State string
	// Detail says why: the digests, the versions, the failed look-up.
	Detail string
}

// Available reports whether the container could take an update: its
// digest moved or a newer release is out.
func (u Update) Available() bool {
	return u.State == UpdateMoved || strings.HasPrefix(u.State, UpdateNewer(""))
}

// UpdateFacts are the registry's answers the update rules read.
type UpdateFacts struct {
	// Digests are the manifest HEADs' answers, by images.Ref.Key.
	Digests map[string]images.DigestResult
	// Tags are the tag lists of framework repositories, TagErrs the lists
	// that failed, by repository.
	Tags    map[string][]string
	TagErrs map[string]error
	// AnyMajor lets a newer tag be of another major version (--any-major).
	AnyMajor bool
}

// Pinned reports whether the container was created from an image named by
// digest (repo@sha256:…, repo:tag@sha256:…): a pin is the operator's
// decision, which refresh and watch leave alone.
func (c Container) Pinned() bool {
	r, err := images.Parse(c.Image)
	return err == nil && r.Digest() != ""
}

// hasUpdate reports whether tarsup could upgrade the container at all: the
// database never is.
func hasUpdate(c Container) bool {
	return c.Role == images.RoleFramework || c.Role == images.RoleNode || c.Role == images.RoleWeb
}

// UpdateChecks are the look-ups the update rules need for cs: a manifest
// HEAD for each container's repository:tag, and the tag list of each
// framework repository that runs a release tag. Pinned containers and the
// database need none. It is pure.
func UpdateChecks(cs []Container) (heads, repos []images.Ref) {
	seen := map[string]bool{}
	for _, c := range cs {
		r, err := images.Parse(c.Image)
		if err != nil || !hasUpdate(c) || r.Digest() != "" {
			continue
		}
		heads = append(heads, r)
		if c.Role == images.RoleFramework && IsVersion(r.Tag()) && !seen[r.Repository()] {
			seen[r.Repository()] = true
			repos = append(repos, r)
		}
	}
	sort.Slice(repos, func(i, j int) bool { return repos[i].Repository() < repos[j].Repository() })
	return heads, repos
}

// UpdateOf decides a container's update state from the registry's answers.
// In order: pinned; a framework with a newer release tag (the rule of
// refresh --to-latest: a vX.Y.Z release, pre-releases ignored, in the same
// major version unless AnyMajor); its tag's digest moved; unknown, when a
// look-up failed or the image has no digest from its repository to
// compare; otherwise none. It is pure.
func UpdateOf(c Container, f UpdateFacts) Update {
	if !hasUpdate(c) {
		return Update{}
	}
	r, err := images.Parse(c.Image)
	if err != nil {
		return Update{State: UpdateUnknown, Detail: "not an image reference: " + err.Error()}
	}
	if d := r.Digest(); d != "" {
		return Update{State: UpdatePinned, Detail: "runs " + Abbrev(d) + " by digest: refresh and watch leave it; tarsup upgrade --to or --" + string(c.Role) + "-image moves it"}
	}
	newer, listed := newerRelease(c, r, f)
	if newer != "" {
		return Update{State: UpdateNewer(newer), Detail: r.Tag() + " -> " + newer}
	}
	res, ok := f.Digests[r.Key()]
	switch {
	case !ok:
		return Update{State: UpdateUnknown, Detail: "not looked up"}
	case res.Err != nil:
		return Update{State: UpdateUnknown, Detail: firstLine(res.Err.Error())}
	}
	from, moved, comparable := digestMoved(c, r, res.Digest)
	switch {
	case !comparable:
		return Update{State: UpdateUnknown, Detail: "its image has no digest from " + r.Repository() + " (built or loaded locally?)"}
	case moved:
		return Update{State: UpdateMoved, Detail: fmt.Sprintf("%s: %s -> %s", r.Tag(), Abbrev(from), Abbrev(res.Digest))}
	case listed != nil:
		return Update{State: UpdateUnknown, Detail: firstLine(listed.Error())}
	}
	return Update{State: UpdateNone}
}

// newerRelease is the newest release tag a framework on a release tag can
// move to, "" when none; failed is the tag list's error, when it failed.
func newerRelease(c Container, r images.Ref, f UpdateFacts) (tag string, failed error) {
	if c.Role != images.RoleFramework || !IsVersion(r.Tag()) {
		return "", nil
	}
	if err := f.TagErrs[r.Repository()]; err != nil {
		return "", err
	}
	tags, ok := f.Tags[r.Repository()]
	if !ok {
		return "", fmt.Errorf("the tags of %s were not listed", r.Repository())
	}
	if t, ok := images.NewestVersion(tags, r.Tag(), !f.AnyMajor); ok {
		return t, nil
	}
	return "", nil
}

// digestMoved compares the digest c's tag points at now with the digests
// c's image has from that repository: comparable is false when it has none
// (built or loaded locally); from is the digest it runs.
func digestMoved(c Container, r images.Ref, now string) (from string, moved, comparable bool) {
	own := images.RepoDigests(c.RepoDigests, r.Repository())
	if len(own) == 0 {
		return "", false, false
	}
	for _, d := range own {
		if d == now {
			return d, false, true
		}
	}
	from = c.Digest()
	if len(own) == 1 {
		from = own[0]
	}
	return from, true, true
}

// SplitPinned separates the pinned containers of a refresh's scope from
// the others: refresh and watch compare and move only the others.
func SplitPinned(scope []Container) (rest []Container, pinned []Pinned) {
	for _, c := range scope {
		if c.Pinned() {
			pinned = append(pinned, Pinned{Host: c.Host, Name: c.Name, Image: c.Image})
			continue
		}
		rest = append(rest, c)
	}
	return rest, pinned
}

// Pinned is a container a refresh leaves alone because it runs an image
// named by digest.
type Pinned struct {
	Host  string `json:"host"`
	Name  string `json:"name"`
	Image string `json:"image"`
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// StatusScope is the containers `tarsup status` shows: every Tars
// container (the database and the temporary names of a swap included),
// limited to the names in only when it names any; missing lists, sorted,
// the names in only that match none. It is pure.
func StatusScope(states []HostState, only []string) (cs []Container, missing []string) {
	want := map[string]bool{}
	for _, n := range only {
		want[strings.TrimPrefix(n, "/")] = false
	}
	for _, s := range states {
		for _, c := range s.Containers {
			if !c.IsTars() {
				continue
			}
			if _, named := want[c.Name]; len(want) > 0 && !named {
				continue
			}
			want[c.Name] = true
			cs = append(cs, c)
		}
	}
	for n, found := range want {
		if !found {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return cs, missing
}
