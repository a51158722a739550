package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/fault"
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
// pure. It refuses (fault.Refused) the db container named with --only and a
// framework with REBUILD=true; it rejects (fault.BadInput) unknown names and bad
// references.
func Select(states []HostState, req Request) ([]Candidate, error) {
	scope, missing := InScope(states, req.Only)
	var out []Candidate
	var refusals []error
	for _, c := range scope {
		if c.Role == images.RoleDB {
			refusals = append(refusals, fmt.Errorf("%s on %s is the Tars database container: tarsup never recreates it (a Tars upgrade must not touch MySQL); drop it from --only", c.Name, c.Host))
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
	if len(missing) > 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("--only %s: no Tars container of that name on any engine (tarsup status lists them)", strings.Join(missing, ", ")))
	}
	if len(refusals) > 0 {
		return nil, fault.Mark(fault.Refused, fmt.Errorf("refused: %w", errors.Join(refusals...)))
	}
	return out, nil
}

// target works out the reference a container should run (images.Retarget's
// rule) and refuses a named image of another role.
func target(c Container, req Request) (Candidate, error) {
	cand := Candidate{Host: c.Host, Container: c, Target: c.Image, AllowIPChange: req.AllowIPChange}
	to, flag, err := images.Retarget(c.Role, c.Image, req.To, req.FrameworkImage, req.NodeImage)
	var retag *images.RetagError
	switch {
	case errors.As(err, &retag):
		return cand, fault.Mark(fault.BadInput, fmt.Errorf("%s on %s runs %q, which is not an image reference tarsup can retag; use --framework-image: %w", c.Name, c.Host, c.Image, retag.Err))
	case err != nil:
		return cand, fault.Mark(fault.BadInput, err)
	case flag == images.FlagFrameworkImage || flag == images.FlagNodeImage:
		ref := req.NodeImage
		if flag == images.FlagFrameworkImage {
			ref = req.FrameworkImage
		}
		// Why before any pull: the name alone tells a mysql or tars-node
		// image from a framework one, and pulling it everywhere only to be
		// gated as the wrong role and rolled back minutes later helps no one.
		if got, bad := images.RoleMismatch(c.Role, ref, nil); bad {
			return cand, fault.Mark(fault.Refused, fmt.Errorf("refused: %s %s names a %s image (by its name), but %s on %s is a %s container; name a %s image%s", flag, ref, got, c.Name, c.Host, c.Role, c.Role, roleHint(c.Role)))
		}
	}
	if flag == "" || to == images.Normalize(c.Image) {
		return cand, nil
	}
	cand.Target, cand.Cause = to, flag+" "+to
	if flag == images.FlagTo {
		cand.Cause = flag + " " + req.To
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
