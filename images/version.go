package images

import (
	"strings"

	"golang.org/x/mod/semver"
)

// semverOf returns the semver form of a tag ("v3.0.16" for "3.0.16" or
// "v3.0.16"), or "" when the tag is not a version.
func semverOf(tag string) string {
	v := tag
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return ""
	}
	return v
}

// releaseOf returns the semver form of a release tag: a full vX.Y.Z without
// pre-release or build suffix. Why so strict: Tars publishes releases as
// vX.Y.Z; "v3" style aliases and "-rc"/"-hc…" builds are not upgrade targets.
func releaseOf(tag string) string {
	v := semverOf(tag)
	if v == "" || semver.Canonical(v) != v || semver.Prerelease(v) != "" {
		return ""
	}
	return v
}

// NewestVersion returns the newest release tag in tags that is newer than
// current, written as in tags ("3.0.16" and "v3.0.16" are both versions).
// Pre-releases and tags that are not versions (latest, stable, v3.0.16-hc1)
// are ignored; with sameMajor only tags of current's major version count.
// ok is false when there is no such tag or current is not a version.
func NewestVersion(tags []string, current string, sameMajor bool) (tag string, ok bool) {
	cur := semverOf(current)
	if cur == "" {
		return "", false
	}
	best := ""
	for _, t := range tags {
		v := releaseOf(t)
		if v == "" || semver.Compare(v, cur) <= 0 {
			continue
		}
		if sameMajor && semver.Major(v) != semver.Major(cur) {
			continue
		}
		switch c := semver.Compare(v, semverOf(best)); {
		case best == "" || c > 0:
			best = t
		case c == 0 && strings.HasPrefix(t, "v") == strings.HasPrefix(current, "v"):
			// The same version tagged twice ("3.0.16", "v3.0.16"): keep the
			// spelling current uses, so a deployment keeps its style.
			best = t
		}
	}
	return best, best != ""
}

// Compare compares two version tags ("v3.0.15", "3.0.16", "v3.0.16-rc1") by
// semver precedence: -1, 0 or +1. ok is false when either is not a version.
func Compare(a, b string) (int, bool) {
	va, vb := semverOf(a), semverOf(b)
	if va == "" || vb == "" {
		return 0, false
	}
	return semver.Compare(va, vb), true
}
