package images

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/tarsup/tarsup/fault"
)

// exampleRef is the reference error messages suggest when they cannot suggest
// a corrected form of what was written.
const exampleRef = "tarscloud/framework:v3.0.16"

// Ref is a parsed, normalized image reference such as
// "tarscloud/framework:v3.0.15" or
// "registry.example.com/mirror/tarscloud/framework:v3.0.15@sha256:…".
// The zero Ref is not a valid reference; get one from Parse.
type Ref struct {
	named reference.Named
}

var (
	hexID     = regexp.MustCompile(`^[a-f0-9]{64}$`)
	validTag  = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	errNoName = errors.New("no repository name")
)

// Parse parses an image reference the way docker does ("framework" is
// "docker.io/library/framework:latest"). A bad reference yields one error,
// matching fault.BadReference, that names the string and how to write it.
func Parse(s string) (Ref, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Ref{}, badReference(s, err)
	}
	return Ref{named: named}, nil
}

// badReference explains why s is not a reference. The library's messages say
// what is wrong but not what to write instead, so the likely cause is
// diagnosed here and the library's error kept as the cause.
func badReference(s string, cause error) error {
	fail := func(why, use string) error {
		return &classified{
			kind:  fault.BadReference,
			msg:   fmt.Sprintf("bad image reference %q: %s; use %s", s, why, use),
			cause: cause,
		}
	}
	eg := "e.g. " + exampleRef
	if s == "" {
		return fail("it is empty", eg)
	}
	if hexID.MatchString(s) {
		return fail("that is an image ID, not a reference", "the image's repository and tag, "+eg)
	}
	name, tag, dig := splitRef(s)
	if name == "" {
		return fail("it has no repository name", eg)
	}
	if domain, path := splitDomain(name); path != strings.ToLower(path) {
		fixed := joinRef(domain+strings.ToLower(path), tag, dig)
		if _, err := reference.ParseNormalizedNamed(fixed); err == nil {
			return fail("repository name must be lowercase", fixed)
		}
		return fail("repository name must be lowercase", eg)
	}
	if dig != "" {
		if _, err := digest.Parse(dig); err != nil {
			return fail("digest must be sha256: followed by 64 lowercase hex digits", "e.g. tarscloud/framework@sha256:<64 hex digits> or a tag")
		}
	}
	if tag != "" && !validTag.MatchString(tag) {
		return fail("tag must be up to 128 letters, digits, '_', '.' or '-' and not start with '.' or '-'", eg)
	}
	return fail(fmt.Sprintf("%v (expected [registry[:port]/]repository[:tag][@digest])", cause), eg)
}

// splitRef splits s into name, tag and digest without validating them.
func splitRef(s string) (name, tag, dig string) {
	name = s
	if i := strings.Index(name, "@"); i >= 0 {
		name, dig = name[:i], name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, dig
}

func joinRef(name, tag, dig string) string {
	if tag != "" {
		name += ":" + tag
	}
	if dig != "" {
		name += "@" + dig
	}
	return name
}

// splitDomain splits a repository name into its registry part ("host:port/",
// kept as written since host names may be upper case) and its path.
func splitDomain(name string) (domain, path string) {
	i := strings.Index(name, "/")
	if i < 0 {
		return "", name
	}
	first := name[:i]
	if strings.ContainsAny(first, ".:") || first == "localhost" || first != strings.ToLower(first) {
		return first + "/", name[i+1:]
	}
	return "", name
}

// String returns the reference in the familiar form docker shows, with the
// implied tag made explicit: "tarscloud/framework:latest" for
// "tarscloud/framework", "busybox:1.36" for "docker.io/library/busybox:1.36".
func (r Ref) String() string {
	if r.named == nil {
		return ""
	}
	return reference.FamiliarString(reference.TagNameOnly(r.named))
}

// Repository returns the familiar repository without tag or digest
// ("tarscloud/framework", "registry.example.com/mirror/tarscloud/framework").
func (r Ref) Repository() string {
	if r.named == nil {
		return ""
	}
	return reference.FamiliarName(r.named)
}

// Domain returns the registry host (and port) the image lives in, "docker.io"
// for Docker Hub.
func (r Ref) Domain() string {
	if r.named == nil {
		return ""
	}
	return reference.Domain(r.named)
}

// Tag returns the reference's tag: "latest" when it names neither a tag nor a
// digest (as docker pull does), "" when it names only a digest.
func (r Ref) Tag() string {
	if t, ok := r.named.(reference.Tagged); ok {
		return t.Tag()
	}
	if _, ok := r.named.(reference.Digested); ok {
		return ""
	}
	return "latest"
}

// Digest returns the reference's digest ("sha256:…"), or "" when it has none.
func (r Ref) Digest() string {
	if d, ok := r.named.(reference.Digested); ok {
		return d.Digest().String()
	}
	return ""
}

// WithTag returns the same repository with another tag and no digest. Why the
// same repository: an upgrade of a mirrored image must keep pulling from the
// mirror.
func (r Ref) WithTag(tag string) (Ref, error) {
	if r.named == nil {
		return Ref{}, fmt.Errorf("set tag %q on an empty image reference: %w", tag, errNoName)
	}
	named, err := reference.WithTag(reference.TrimNamed(r.named), tag)
	if err != nil {
		return Ref{}, badReference(r.Repository()+":"+tag, err)
	}
	return Ref{named: named}, nil
}

// Tail returns the last two parts of the repository path
// ("tarscloud/framework" for "registry.example.com/mirror/tarscloud/framework:v3"),
// which is how roles are recognised behind mirrors.
func (r Ref) Tail() string {
	if r.named == nil {
		return ""
	}
	return RepositoryTail(r.named.String())
}

// Canonical returns the fully qualified reference
// ("docker.io/library/busybox:latest", "docker.io/tarscloud/framework:v3.0.15@sha256:…").
func (r Ref) Canonical() string {
	if r.named == nil {
		return ""
	}
	return reference.TagNameOnly(r.named).String()
}

// Key returns "repository:tag" in familiar form, the unit a registry answers a
// digest for; Digests keys its results by it. A reference with only a digest
// is its own key.
func (r Ref) Key() string {
	if tag := r.Tag(); tag != "" {
		return r.Repository() + ":" + tag
	}
	return r.String()
}

// remoteRef converts r to the go-containerregistry reference a registry request
// needs: the tag when there is one (a lookup asks what the tag points to now),
// otherwise the digest. Why it is built from the parsed parts rather than
// parsed again: go-containerregistry's parser disagrees with docker's on some
// valid names ("localhost/x" is a Docker Hub repository to it, and it rejects
// one-letter repositories).
func (r Ref) remoteRef() (name.Reference, error) {
	if r.named == nil {
		return nil, fmt.Errorf("look up an empty image reference: %w", errNoName)
	}
	var opts []name.Option
	if IsLoopback(r.Domain()) {
		// Why: go-containerregistry picks plain HTTP for 127.0.0.1 and
		// "localhost:port" only; the Docker Engine treats all of 127.0.0.0/8
		// and localhost as insecure registries, and so must tarsup.
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(r.Domain(), opts...)
	if err != nil {
		return nil, fmt.Errorf("registry %q of %s is not valid for a registry request: %w", r.Domain(), r, err)
	}
	repo := reg.Repo(reference.Path(r.named))
	if tag := r.Tag(); tag != "" {
		return repo.Tag(tag), nil
	}
	return repo.Digest(r.Digest()), nil
}

// IsLoopback reports whether a host or host:port (a registry's domain, an
// engine's address) is this machine.
func IsLoopback(domain string) bool {
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
