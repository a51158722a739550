package plan

import (
	"fmt"
	"time"

	"github.com/tarsup/tarsup/images"
)

// Cooling is a container whose tag moved to an image too young to take
// yet (--min-age): it is left as it is until Until.
type Cooling struct {
	Host  string `json:"host"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Image string `json:"image"`
	// From is the digest the container runs; To the one its tag points at
	// (empty for a newer framework tag, which was not looked up by digest).
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// Created is the image's creation time from its registry config; zero
	// (absent) when unknown. Until is Created + --min-age: from then on a
	// refresh takes it; zero when Created is unknown.
	Created time.Time `json:"created,omitzero"`
	Until   time.Time `json:"until,omitzero"`
	Reason  string    `json:"reason"`
}

// Line renders one held-back container, e.g. "tars-node1: latest moved
// sha256:cccc… -> sha256:dddd…, created 2026-01-02T10:00:00Z: too new for
// --min-age 24h0m0s, taken from 2026-01-03T10:00:00Z".
func (c Cooling) Line(withHost bool) string {
	h := ""
	if withHost {
		h = c.Host + " "
	}
	what := fmt.Sprintf("%s moved %s -> %s", TagOf(c.Image), Abbrev(c.From), Abbrev(c.To))
	if c.To == "" {
		what = "newer framework tag " + c.Image
	}
	return fmt.Sprintf("%s%s: %s: %s", h, c.Name, what, c.Reason)
}

// epoch is the creation time reproducible builds write when they give
// none (SOURCE_DATE_EPOCH=0): an unknown age, like a missing one.
var epoch = time.Unix(0, 0)

// AgeQueries are the config look-ups --min-age needs: one per repository:tag
// and platform that a container moved to (by the digest its tag points
// at), and, with a newer framework tag, that tag in each framework
// repository and platform in scope. The platform is the one the
// container's image has: the same tag on two platforms is two images,
// each with its own age. It is pure.
func AgeQueries(check RefreshCheck, scope []Container) []images.CreatedQuery {
	byName := map[string]Container{}
	for _, c := range scope {
		byName[c.Host+" "+c.Name] = c
	}
	var out []images.CreatedQuery
	seen := map[string]bool{}
	add := func(ref, digest string, c Container) {
		r, err := images.Parse(ref)
		if err != nil {
			return
		}
		q := images.CreatedQuery{Ref: r, Digest: digest, Platform: platformOf(c)}
		if seen[q.Key()] {
			return
		}
		seen[q.Key()] = true
		out = append(out, q)
	}
	for _, m := range check.Moved {
		add(m.Image, m.To, byName[m.Host+" "+m.Name])
	}
	if check.NewerTag != "" {
		for _, c := range scope {
			if r, err := images.Parse(c.Image); err == nil && c.Role == images.RoleFramework {
				if t, err := r.WithTag(check.NewerTag); err == nil {
					add(t.String(), "", c)
				}
			}
		}
	}
	return out
}

// platformOf is the platform of the image a container runs ("linux/amd64",
// "linux/arm/v7"); "" when unknown.
func platformOf(c Container) string {
	img := c.ImageInfo
	if img.Os == "" || img.Architecture == "" {
		return ""
	}
	p := img.Os + "/" + img.Architecture
	if img.Variant != "" {
		p += "/" + img.Variant
	}
	return p
}

// ApplyMinAge holds back what is too young: a moved container whose new
// image was created less than minAge before now, or whose creation time is
// unknown (missing, unparseable, the Unix epoch, or the look-up failed),
// leaves Moved for Cooling; a newer framework tag that is too young in any
// framework repository is not taken, and each framework and web container
// in scope is reported cooling instead. created holds the look-ups by
// repository:tag and platform (images.CreatedQuery.Key). It is pure.
func ApplyMinAge(check RefreshCheck, scope []Container, created map[string]images.CreatedResult, minAge time.Duration, now time.Time) RefreshCheck {
	if minAge <= 0 {
		return check
	}
	check.MinAge = minAge
	kept := []Moved{}
	byName := map[string]Container{}
	for _, c := range scope {
		byName[c.Host+" "+c.Name] = c
	}
	for _, m := range check.Moved {
		cool, ok := tooYoung(m.Image, platformOf(byName[m.Host+" "+m.Name]), created, minAge, now)
		if !ok {
			kept = append(kept, m)
			continue
		}
		cool.Host, cool.Name, cool.Role, cool.Image, cool.From, cool.To = m.Host, m.Name, m.Role, m.Image, m.From, m.To
		check.Cooling = append(check.Cooling, cool)
	}
	check.Moved = kept
	if check.NewerTag == "" {
		return check
	}
	var young *Cooling
	for _, c := range scope {
		if c.Role != images.RoleFramework {
			continue
		}
		if r, err := images.Parse(c.Image); err == nil {
			if t, err := r.WithTag(check.NewerTag); err == nil {
				if cool, ok := tooYoung(t.String(), platformOf(c), created, minAge, now); ok && (young == nil || cool.Until.After(young.Until)) {
					young = &cool
				}
			}
		}
	}
	if young == nil {
		return check
	}
	for _, c := range scope {
		if c.Role == images.RoleFramework || c.Role == images.RoleWeb {
			cool := *young
			cool.Host, cool.Name, cool.Role, cool.Image, cool.From = c.Host, c.Name, string(c.Role), check.NewerTag, c.Digest()
			check.Cooling = append(check.Cooling, cool)
		}
	}
	check.NewerTag, check.NewerFrom = "", ""
	return check
}

// tooYoung judges the image ref moved to; ok is true when it is held back,
// with the creation time, until when and why.
func tooYoung(ref, platform string, created map[string]images.CreatedResult, minAge time.Duration, now time.Time) (Cooling, bool) {
	r, err := images.Parse(ref)
	if err != nil {
		return Cooling{Reason: "not an image reference: counted as too new for --min-age"}, true
	}
	res, ok := created[images.CreatedQuery{Ref: r, Platform: platform}.Key()]
	switch {
	case !ok:
		return Cooling{Reason: "its creation time was not looked up: counted as too new for --min-age"}, true
	case res.Err != nil:
		return Cooling{Reason: fmt.Sprintf("its creation time is unknown (%v): counted as too new for --min-age %s", res.Err, minAge)}, true
	case !res.Created.After(epoch):
		return Cooling{Reason: fmt.Sprintf("its creation time is unknown (the image config gives none): counted as too new for --min-age %s", minAge)}, true
	}
	until := res.Created.Add(minAge)
	if !now.Before(until) {
		return Cooling{}, false
	}
	return Cooling{Created: res.Created.UTC(), Until: until.UTC(),
		Reason: fmt.Sprintf("created %s: too new for --min-age %s, taken from %s", res.Created.UTC().Format(time.RFC3339), minAge, until.UTC().Format(time.RFC3339))}, true
}
