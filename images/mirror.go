package images

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the domain of Docker Hub images in a normalized reference
// ("tarscloud/framework" is "docker.io/tarscloud/framework").
const dockerHub = "docker.io"

// ParseMirror checks the URL of a Docker Hub mirror (--registry-mirror, an
// engine's registry-mirrors) and returns it as Registry.Mirrors takes it:
// scheme://host[:port], without a trailing slash. Like the Docker Engine, it
// takes http and https only, and no credentials, query or fragment; unlike
// it, no path either (a registry request names the repository from the
// host's root).
func ParseMirror(s string) (string, error) {
	const want = "use http(s)://HOST[:PORT], e.g. https://mirror.example.com or http://127.0.0.1:5000"
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL (%v): %s", s, err, want)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q is not an http or https URL: %s", s, want)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q names no host: %s", s, want)
	case u.User != nil:
		return "", fmt.Errorf("%q carries credentials: put them in the Docker config (docker login HOST), not in the URL", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("%q has a query or fragment: %s", s, want)
	case strings.Trim(u.Path, "/") != "":
		return "", fmt.Errorf("%q has a path (%s): a mirror answers at its host's root; %s", s, u.Path, want)
	}
	return u.Scheme + "://" + u.Host, nil
}

// onDockerHub reports whether ref's registry is Docker Hub, the only one
// mirrors stand in for (as the Docker Engine's registry-mirrors).
func (r Ref) onDockerHub() bool { return r.Domain() == dockerHub }

// mirrorRef is ref's repository and tag (or digest) on the mirror m (as
// ParseMirror returns it): Docker Hub's path ("library/busybox") from the
// mirror's root, in plain HTTP for an http:// mirror.
func (r Ref) mirrorRef(m string) (name.Reference, error) {
	u, err := url.Parse(m)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", m, err)
	}
	var opts []name.Option
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(u.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mirror %s is not valid for a registry request: %w", m, err)
	}
	repo := reg.Repo(reference.Path(r.named))
	if tag := r.Tag(); tag != "" {
		return repo.Tag(tag), nil
	}
	return repo.Digest(r.Digest()), nil
}
