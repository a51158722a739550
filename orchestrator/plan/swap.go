package plan

import (
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/orchestrator/owner"
)

// Swap is one interrupted upgrade found on an engine, as its journal (the
// labels and names of the containers) and the engine show it: plain facts
// for PlanRecovery.
type Swap struct {
	Host string
	// Name is the service's name.
	Name string
	// Orphan marks an old container aside whose successor is gone: New is
	// then zero and Old holds only its ID and name.
	Orphan bool
	// Old is the container the upgrade replaces, New the one it created
	// (inspected only when it holds Name); their Name fields are the names
	// they hold now.
	Old, New Container
	// NewNetworks are the new container's endpoints as the container list
	// shows them: the record of how the old one was attached.
	NewNetworks map[string]*network.EndpointSettings
	// WasUp says the old container was running before the upgrade.
	WasUp bool
	// Restore is what the old container's gate asks once it is back (LabelTxnRestore).
	Restore string
	// Holder and HolderName are the container under Name now ("" for none).
	Holder, HolderName string
	// Owner is the tarsup that journaled the swap (Journaled false when none
	// is named), Started when, and Live whether it may still be at work.
	Owner     owner.Owner
	Started   time.Time
	Journaled bool
	Live      bool
	// Err is why a container of the swap could not be inspected ("" when it could).
	Err string
	// Problem is why the journal is not as tarsup leaves a swap (Journal.Problem):
	// neither container is touched.
	Problem string
}

// AttachedBefore is the record of how the old container of a swap was
// attached: the networks of the configuration its successor journals
// (tarsup.previous), with its own addresses pinned. Why not the successor's
// live networks: a successor that is not a faithful copy (made by an older
// tarsup, or by hand) would attach the old container to networks it never
// had. Without that record, the live networks are used only when the old
// container is on no network at all, the state a kill during the rollback's
// re-pin leaves and in which it could not start with an address.
func AttachedBefore(newC container.Summary, old Container) map[string]*network.EndpointSettings {
	if prev, err := DecodeSpec(newC.Labels[LabelPrevious]); err == nil && len(prev.Networks) > 0 {
		return prev.Networks
	}
	if newC.NetworkSettings == nil {
		return nil
	}
	if in := old.Inspect; in.ContainerJSONBase != nil && in.NetworkSettings != nil && len(in.NetworkSettings.Networks) > 0 {
		return nil
	}
	return newC.NetworkSettings.Networks
}
