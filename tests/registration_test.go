//go:build e2e

package tests

import (
	"strings"
	"testing"

	"github.com/tarsup/tarsup/tests/testbed"
)

// TestRegistrationOffWithoutDatabase: where no database answers (here the
// bed's stand-in, which only accepts connections), the registration check
// is off for that deployment, the report says so once and why, and the run
// goes on; an operator who asked for the check (--register-timeout given)
// gets exit 2, and nothing changed.
func TestRegistrationOffWithoutDatabase(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("regoff-")
	// Nodes already at v3.0.16: the framework may move there alone.
	node := floatingNode(t, ctx, "regoff-"+bed.RunID, "v3.0.16")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(160), Nodes: 1, NodeImage: node})
	args := append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--only", dep.Framework.Name}, gateFlags...)

	r := tarsup(t, ctx, append(args, "--dry-run")...)
	off := "registration check off for deployment " + dep.DB.IP + ":3306 (" + dep.Framework.Name + " on " + bed.Local.Host + "): "
	requireExit(t, r, 0, off)
	if n := strings.Count(r.Stdout, "registration check off"); n != 1 {
		t.Errorf("the report says %d times that the check is off, want once:\n%s", n, r.Stdout)
	}
	if strings.Contains(r.Stdout, "reregister") {
		t.Errorf("a registration check planned without a database:\n%s", r.Stdout)
	}

	before := snapshot(t, ctx, bed.Local, p)
	r = tarsup(t, ctx, append(args, "--register-timeout", "30s")...)
	requireExit(t, r, 2, off, "--register-timeout 0", "nothing was changed")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}
