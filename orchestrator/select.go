package orchestrator

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/images"
)

// RebuildDrops names what REBUILD=true drops (deploy/docker-init.sh).
const RebuildDrops = "db_tars, tars_stat, tars_property, db_tars_web, db_user_system and db_cache_web (every deployed service, config and user)"

// Request is what the operator asked for.
type Request struct {
	// To moves every framework (and web) container to this tag in its own repository.
	To string
	// FrameworkImage and NodeImage name the target images outright.
	FrameworkImage string
	NodeImage      string
	// Only limits the work to these container names.
	Only []string
	// AllowIPChange lets a container whose address cannot be kept (the
	// default bridge; a network without a configured subnet on an old
	// engine) be recreated anyway, with whatever address the engine gives.
	AllowIPChange bool
}

// Candidate is a container in scope and the reference it should run.
type Candidate struct {
	Host      string
	Container Container
	Target    string
	// Cause says why the target differs, or "" when only a moved digest would make a change.
	Cause string
	// AllowIPChange is the request's --allow-ip-change.
	AllowIPChange bool
	// Labels are set on the new container over the ones it copies from the
	// old (compose's config-hash, say): decided by the caller, shown in the
	// dry run. Nil for none.
	Labels map[string]string
}

// Select decides which containers are in scope and what each should run. It is
// pure. It refuses (ErrRefused) the db container named with --only and a
// framework with REBUILD=true; it rejects (ErrBadInput) unknown names and bad
// references.
func Select(states []HostState, req Request) ([]Candidate, error) {
	only := map[string]bool{}
	for _, n := range req.Only {
		only[strings.TrimPrefix(n, "/")] = false
	}
	var out []Candidate
	var refusals []error
	for _, s := range states {
		for _, c := range s.Containers {
			if _, named := only[c.Name]; len(only) > 0 && !named {
				continue
			}
			if len(only) > 0 {
				only[c.Name] = true
			}
			switch c.Role {
			case images.RoleDB:
				if len(only) > 0 {
					refusals = append(refusals, fmt.Errorf("%s on %s is the Tars database container: tarsup never recreates it (a Tars upgrade must not touch MySQL); drop it from --only", c.Name, c.Host))
				}
				continue
			case images.RoleFramework, images.RoleNode, images.RoleWeb:
			default:
				continue
			}
			if isTemporaryName(c.Name) {
				continue
			}
			if c.Rebuild {
				refusals = append(refusals, fmt.Errorf("%s on %s has REBUILD=true: its next start drops %s. Recreate it with REBUILD=false (or remove the variable) and run tarsup again; tarsup never sets REBUILD=true", c.Name, c.Host, RebuildDrops))
			}
			cand, err := target(c, req)
			if err != nil {
				return nil, err
			}
			out = append(out, cand)
		}
	}
	for n, found := range only {
		if !found {
			return nil, withKind(ErrBadInput, fmt.Errorf("--only %s: no Tars container of that name on any engine (tarsup status lists them)", n))
		}
	}
	if len(refusals) > 0 {
		return nil, withKind(ErrRefused, fmt.Errorf("refused: %w", errors.Join(refusals...)))
	}
	return out, nil
}

func isTemporaryName(name string) bool {
	for _, s := range []string{suffixNew, suffixOld, suffixFailed} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// target works out the reference a container should run.
func target(c Container, req Request) (Candidate, error) {
	cand := Candidate{Host: c.Host, Container: c, Target: c.Image, AllowIPChange: req.AllowIPChange}
	named := func(flag, ref string) error {
		r, err := images.Parse(ref)
		if err != nil {
			return withKind(ErrBadInput, fmt.Errorf("%s: %w", flag, err))
		}
		// Why before any pull: the name alone tells a mysql or tars-node
		// image from a framework one, and pulling it everywhere only to be
		// gated as the wrong role and rolled back minutes later helps no one.
		if got, bad := images.RoleMismatch(c.Role, ref, nil); bad {
			return withKind(ErrRefused, fmt.Errorf("refused: %s %s names a %s image (by its name), but %s on %s is a %s container; name a %s image%s", flag, ref, got, c.Name, c.Host, c.Role, c.Role, roleHint(c.Role)))
		}
		if r.String() != normalized(c.Image) {
			cand.Target, cand.Cause = r.String(), flag+" "+r.String()
		}
		return nil
	}
	switch c.Role {
	case images.RoleFramework, images.RoleWeb:
		if c.Role == images.RoleFramework && req.FrameworkImage != "" {
			return cand, named("--framework-image", req.FrameworkImage)
		}
		if req.To != "" {
			cur, err := images.Parse(c.Image)
			if err != nil {
				return cand, withKind(ErrBadInput, fmt.Errorf("%s on %s runs %q, which is not an image reference tarsup can retag; use --framework-image: %w", c.Name, c.Host, c.Image, err))
			}
			r, err := cur.WithTag(req.To)
			if err != nil {
				return cand, withKind(ErrBadInput, fmt.Errorf("--to %s: %w", req.To, err))
			}
			if r.String() != cur.String() {
				cand.Target, cand.Cause = r.String(), "--to "+req.To
			}
		}
	case images.RoleNode:
		if req.NodeImage != "" {
			return cand, named("--node-image", req.NodeImage)
		}
	}
	return cand, nil
}

// roleHint names the images of a role, for a refusal's fix.
func roleHint(r images.Role) string {
	switch r {
	case images.RoleFramework:
		return " (tarscloud/framework or tarscloud/tars, or a mirror of one)"
	case images.RoleNode:
		return " (tarscloud/tars-node, or a mirror of it)"
	}
	return ""
}

func normalized(ref string) string {
	if r, err := images.Parse(ref); err == nil {
		return r.String()
	}
	return ref
}
