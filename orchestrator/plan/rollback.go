package plan

import (
	"fmt"

	"github.com/tarsup/tarsup/fault"
)

// RollbackTarget is a container `rollback` puts back as it was before its
// last upgrade.
type RollbackTarget struct {
	Host      string // the engine's name
	Container Container
	Previous  Spec
}

// FindRollback finds the named container on the engines and the
// configuration it had before its last upgrade.
func FindRollback(states []HostState, name string) (RollbackTarget, error) {
	var found []RollbackTarget
	for _, s := range states {
		for _, c := range s.Containers {
			if c.Name == name {
				found = append(found, RollbackTarget{Host: s.Host, Container: c})
			}
		}
	}
	switch {
	case len(found) == 0:
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s: no Tars container of that name on any engine (tarsup status lists them)", name))
	case len(found) > 1:
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s: that name is on %d engines; name one with --host", name, len(found)))
	}
	t := found[0]
	// Why here: a name the swap needs that is taken would be found only
	// after the container was stopped.
	if err := checkClashes([]Step{{Host: t.Host, Container: t.Container}}, states); err != nil {
		return RollbackTarget{}, err
	}
	v := t.Container.Labels[LabelPrevious]
	if v == "" {
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s on %s: tarsup never upgraded this container, so there is nothing to go back to", name, t.Host))
	}
	prev, err := DecodeSpec(v)
	if err != nil {
		return RollbackTarget{}, fmt.Errorf("rollback %s on %s: %w", name, t.Host, err)
	}
	t.Previous = prev
	return t, nil
}

// PreviousImages is what an engine holds of a container's previous image:
// the observed facts that choosePrevious decides on.
type PreviousImages struct {
	Tag    bool // the previous tag is there and still points at the previous image
	ID     bool // the previous image is there by its ID
	Digest bool // the previous repo digest is there
}

// ChoosePrevious picks the exact image the container ran before: its tag
// if the tag still points there, else its image ID when it has no registry
// digest, else its repo digest (pull true when it must be pulled back). It
// is pure.
func ChoosePrevious(spec Spec, f PreviousImages, host string) (ref string, pull bool, err error) {
	switch {
	case f.Tag:
		return spec.Image, false, nil
	case spec.RepoDigest == "" && f.ID:
		return spec.ImageID, false, nil
	case spec.RepoDigest == "":
		return "", false, fault.Mark(fault.BadInput, fmt.Errorf("the previous image %s (%s) is gone from %s and has no registry digest to pull it back by", spec.Image, Short(spec.ImageID), host))
	}
	return spec.RepoDigest, !f.Digest, nil
}
