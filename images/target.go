package images

import (
	"fmt"
	"strings"
)

// Normalize returns ref's normalized form (the familiar name with an explicit
// tag: "tarscloud/framework" becomes "tarscloud/framework:latest"), or ref
// itself when it does not parse.
func Normalize(ref string) string {
	if r, err := Parse(ref); err == nil {
		return r.String()
	}
	return ref
}

// SameImage reports whether two image references name the same image:
// "tarscloud/framework" and "docker.io/tarscloud/framework:latest" do.
func SameImage(a, b string) bool { return Normalize(a) == Normalize(b) }

// RepositoryOf returns the normalized repository of a reference
// ("tarscloud/framework" for "docker.io/tarscloud/framework:v3"), or ref itself
// when it does not parse.
func RepositoryOf(ref string) string {
	r, err := Parse(ref)
	if err != nil {
		return ref
	}
	return r.Repository()
}

// RepoDigests returns the digests among recorded (an image's repo digests as
// the engine records them, "repo@sha256:…") whose repository is ref's, in
// their order. Why by repository: an image pulled from a mirror and from
// Docker Hub has one digest per repository, and only ref's own says what ref
// runs.
func RepoDigests(recorded []string, ref string) []string {
	repo := RepositoryOf(ref)
	var out []string
	for _, d := range recorded {
		if i := strings.LastIndex(d, "@"); i > 0 && RepositoryOf(d[:i]) == repo {
			out = append(out, d[i+1:])
		}
	}
	return out
}

// RepoDigest returns the first of RepoDigests(recorded, ref), or "".
func RepoDigest(recorded []string, ref string) string {
	if ds := RepoDigests(recorded, ref); len(ds) > 0 {
		return ds[0]
	}
	return ""
}

// Image flags, as Retarget names them.
const (
	FlagTo             = "--to"
	FlagFrameworkImage = "--framework-image"
	FlagNodeImage      = "--node-image"
)

// RetagError is Retarget's error when --to applies to a container whose own
// image is not a reference that can be retagged.
type RetagError struct {
	Image string
	Err   error
}

func (e *RetagError) Error() string { return e.Err.Error() }

// Unwrap returns the parse error.
func (e *RetagError) Unwrap() error { return e.Err }

// Retarget is the one rule for the image a container of role created from
// image moves to under an upgrade's image flags: a framework takes
// frameworkImage when given; a framework or web container otherwise takes
// its own repository at tag to (so a mirror stays a mirror); a node takes
// nodeImage. It returns the normalized target and the flag that chose it, or
// Normalize(image) and "" when no flag applies to role. A flag's reference
// that does not parse is an error naming the flag; so is, with --to, the
// container's own image that does not parse (a *RetagError).
func Retarget(role Role, image, to, frameworkImage, nodeImage string) (target, flag string, err error) {
	named := func(flag, ref string) (string, string, error) {
		r, err := Parse(ref)
		if err != nil {
			return "", flag, fmt.Errorf("%s: %w", flag, err)
		}
		return r.String(), flag, nil
	}
	switch {
	case role == RoleFramework && frameworkImage != "":
		return named(FlagFrameworkImage, frameworkImage)
	case (role == RoleFramework || role == RoleWeb) && to != "":
		cur, err := Parse(image)
		if err != nil {
			return "", FlagTo, &RetagError{Image: image, Err: err}
		}
		r, err := cur.WithTag(to)
		if err != nil {
			return "", FlagTo, fmt.Errorf("%s %s: %w", FlagTo, to, err)
		}
		return r.String(), FlagTo, nil
	case role == RoleNode && nodeImage != "":
		return named(FlagNodeImage, nodeImage)
	}
	return Normalize(image), "", nil
}
