package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// Labels on everything the tests create. tarsup copies a container's labels to
// its replacement, so containers tarsup makes carry them too.
const (
	// RunLabel holds the run ID of the go test process that created the object.
	RunLabel = "tarsup.test"
	// CaseLabel holds the name of the test that created the object.
	CaseLabel = "tarsup.test.case"
)

// anonymousVolume matches the names Docker gives anonymous volumes.
var anonymousVolume = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Cleanup removes, on every engine, all containers (forced, with their
// anonymous volumes), networks and volumes labelled RunLabel=runID.
func Cleanup(ctx context.Context, runID string, engines ...*Engine) error {
	var errs []error
	for _, e := range engines {
		if e == nil {
			continue
		}
		if err := removeLabelled(ctx, e.Client, RunLabel+"="+runID); err != nil {
			errs = append(errs, fmt.Errorf("clean up %s: %w", e.Host, err))
		}
		if err := removeDeadLock(ctx, e.Client); err != nil {
			errs = append(errs, fmt.Errorf("clean up %s: %w", e.Host, err))
		}
		left, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", RunLabel+"="+runID))})
		if err != nil {
			errs = append(errs, fmt.Errorf("clean up %s: %w", e.Host, err))
		}
		for _, c := range left {
			errs = append(errs, fmt.Errorf("clean up %s: container %v left behind", e.Host, c.Names))
		}
	}
	return errors.Join(errs...)
}

// removeLabelled removes the containers, then the networks and volumes, that
// carry every one of the labels (key=value).
func removeLabelled(ctx context.Context, cli *client.Client, labels ...string) error {
	f := filters.NewArgs()
	for _, l := range labels {
		f.Add("label", l)
	}
	var errs []error
	containers, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	// Volumes mounted by name (a recreated container keeps its predecessor's
	// anonymous volumes by name) are not removed with the container.
	var mounted []string
	for _, c := range containers {
		for _, m := range c.Mounts {
			if m.Type == "volume" && anonymousVolume.MatchString(m.Name) {
				mounted = append(mounted, m.Name)
			}
		}
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) && !removalUnderWay(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
		}
	}
	for _, v := range mounted {
		if err := cli.VolumeRemove(ctx, v, true); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v, err))
		}
	}
	vols, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list volumes: %w", err))
	} else {
		for _, v := range vols.Volumes {
			if err := cli.VolumeRemove(ctx, v.Name, true); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			}
		}
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	} else {
		for _, n := range nets {
			if err := cli.NetworkRemove(ctx, n.ID); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// removeAllContainers removes every container of an engine the bed owns.
func removeAllContainers(ctx context.Context, cli *client.Client) error {
	containers, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	var errs []error
	for _, c := range containers {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) && !removalUnderWay(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
		}
	}
	return errors.Join(errs...)
}

// newRunID makes a run ID that starts with this process's ID, so that a later
// run can tell the leftovers of a run whose process died (a panic, a timeout)
// from those of a run still going on beside it.
func newRunID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b)), nil
}

// RemoveDeadRuns removes from e what earlier runs labelled when their process
// no longer exists.
func RemoveDeadRuns(ctx context.Context, e *Engine) error {
	f := filters.NewArgs(filters.Arg("label", RunLabel))
	runs := map[string]bool{}
	containers, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list containers on %s: %w", e.Host, err)
	}
	for _, c := range containers {
		runs[c.Labels[RunLabel]] = true
	}
	vols, err := e.Client.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list volumes on %s: %w", e.Host, err)
	}
	for _, v := range vols.Volumes {
		runs[v.Labels[RunLabel]] = true
	}
	nets, err := e.Client.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list networks on %s: %w", e.Host, err)
	}
	for _, n := range nets {
		runs[n.Labels[RunLabel]] = true
	}
	var errs []error
	for run := range runs {
		pidText, _, ok := strings.Cut(run, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive (or not ours to judge)
		}
		if err := removeLabelled(ctx, e.Client, RunLabel+"="+run); err != nil {
			errs = append(errs, fmt.Errorf("remove leftovers of run %s on %s: %w", run, e.Host, err))
		}
	}
	return errors.Join(errs...)
}

// removeImagesFrom removes the references to images from registry addr
// (host:port), tags and digests alike: each run has its own registry port, so
// they would pile up on the engine. Why by reference and not by image ID: the
// same fake image may also be tagged from another run's registry.
func removeImagesFrom(ctx context.Context, e *Engine, addr string) error {
	imgs, err := e.Client.ImageList(ctx, image.ListOptions{All: true})
	if err != nil {
		return fmt.Errorf("list images on %s: %w", e.Host, err)
	}
	var errs []error
	for _, img := range imgs {
		refs := append(append([]string(nil), img.RepoTags...), img.RepoDigests...)
		for _, ref := range refs {
			if !strings.HasPrefix(ref, addr+"/") {
				continue
			}
			if _, err := e.Client.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove image %s on %s: %w", ref, e.Host, err))
			}
		}
	}
	return errors.Join(errs...)
}

// removalUnderWay reports the engine's answer when another process (a
// concurrent cleanup of the same dead run) is already removing it.
func removalUnderWay(err error) bool {
	return strings.Contains(err.Error(), "already in progress")
}

// removeDeadLock removes tarsup's engine lock when the process that took it
// is gone (a test killed tarsup and nothing recovered afterwards); a live
// holder (another run's tarsup) keeps it.
func removeDeadLock(ctx context.Context, cli *client.Client) error {
	in, err := cli.ContainerInspect(ctx, lock.EngineLockName)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect the tarsup lock: %w", err)
	}
	holder, _ := owner.ParseOwner(in.Config.Labels[plan.LabelTxnOwner])
	started, _ := time.Parse(time.RFC3339, in.Config.Labels[plan.LabelTxnStarted])
	if holder.Live(owner.ThisProcess(), started, time.Now()) {
		return nil
	}
	if err := cli.ContainerRemove(ctx, in.ID, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove the dead tarsup lock: %w", err)
	}
	return nil
}
