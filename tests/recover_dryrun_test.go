//go:build e2e

package tests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// TestRecoverDryRun: with an interrupted swap on the engine (the old
// container stopped and renamed aside, the new one created on its network,
// its tarsup gone) and the engine lock held by another live tarsup, `tarsup
// recover --dry-run` prints the planned undo, as text and JSON, takes no lock
// and changes nothing; `tarsup recover` then carries it out.
func TestRecoverDryRun(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("rdry-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(29)})
	fw := dep.Framework.Name
	c := bed.Local.Client
	old := inspect(t, ctx, bed.Local, fw)
	if err := c.ContainerStop(ctx, old.ID, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ContainerRename(ctx, old.ID, fw+".tarsup-old"); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{testbed.RunLabel: bed.RunID, plan.LabelTxn: "t1", plan.LabelTxnName: fw,
		plan.LabelTxnOld: old.ID, plan.LabelTxnOldRunning: "true", plan.LabelTxnOwner: "gone-machine/1/1"}
	if _, err := c.ContainerCreate(ctx, &container.Config{Image: old.Config.Image, Labels: labels},
		&container.HostConfig{NetworkMode: old.HostConfig.NetworkMode}, &network.NetworkingConfig{}, nil, fw+".tarsup-new"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ctx, bed.Local, p)

	h, err := engine.Connect(ctx, engine.HostSpec{URL: bed.Local.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	unlock, err := orchestrator.NewExecutor([]*engine.Host{h}, orchestrator.ExecOptions{}).LockAll(ctx, []*engine.Host{h}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Why deferred too: a failed assertion below must not leave the local
	// engine locked for every later test (unlock twice is harmless).
	defer unlock()
	r := tarsup(t, ctx, "recover", "--host", bed.Local.Host, "--dry-run", "--lock-wait", "0s")
	requireExit(t, r, 0, fw+" on ", ": undo: remove the new container, put the old one back: would: stop "+fw+".tarsup-new (",
		"rename "+fw+".tarsup-old -> "+fw, "remove "+fw+".tarsup-new, start "+fw)
	r = tarsup(t, ctx, "recover", "--host", bed.Local.Host, "--dry-run", "--format", "json", "--lock-wait", "0s")
	requireExit(t, r, 0)
	unlock()
	var planned []plan.Recovery
	if err := json.Unmarshal([]byte(r.Stdout), &planned); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.Stdout)
	}
	var mine []plan.Recovery
	for _, rec := range planned {
		if rec.Name == fw {
			mine = append(mine, rec)
		}
	}
	if len(mine) != 1 || !strings.HasPrefix(mine[0].Action, "undo:") || !strings.HasPrefix(mine[0].Result, "would: ") {
		t.Fatalf("JSON plan %+v", planned)
	}
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append([]string{"recover", "--host", bed.Local.Host}, gateFlags...)...)
	requireExit(t, r, 0, fw+" on ", ": undo: remove the new container, put the old one back: done")
	requireOneHealthy(t, ctx, d, dep)
}
