//go:build e2e

package tests

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/tests/testbed"
)

// TestComposeVariables upgrades projects brought up by the real
// docker-compose whose image: is written with variables: the smallest
// literal that changes is rewritten (a literal tag next to a registry
// variable left to its default; a tag variable's line in .env, its quotes
// kept), the container runs the new image, and docker-compose still lists
// it as up, reading the edited files itself. A tag the process environment
// sets is refused (exit 2) and nothing changes.
func TestComposeVariables(t *testing.T) {
	for _, v := range []string{"REG", "TARS_VERSION"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Fatalf("%s is set in the environment; this test needs it unset", v)
		}
	}
	addr := bed.Registry.Addr
	fwRepo := bed.Images.FrameworkRepo

	t.Run("registry variable unset with a default and a literal tag", func(t *testing.T) {
		ctx := t.Context()
		subnet := bed.Local.Subnet(121)
		ip3 := testbed.HostIP(subnet, 3)
		prefix := uniq("cvr-")
		p := newComposeProject(t, bed.Local, t.TempDir(), "e2e-"+bed.RunID+"-cvr", "vars.yaml", map[string]string{
			"IMAGE": "${REG:-" + addr + "}/tarscloud/framework:v3.0.15", "PREFIX": prefix, "SUBNET": subnet, "IP3": ip3,
		})
		p.up(ctx, net.JoinHostPort(ip3, "17890"))
		fwName := prefix + "framework"
		before := inspect(t, ctx, bed.Local, fwName)
		if before.Config.Image != fwRepo+":v3.0.15" {
			t.Fatalf("docker-compose created %s from %s, want %s:v3.0.15", fwName, before.Config.Image, fwRepo)
		}
		orig := readText(t, p.File)

		r := tarsup(t, ctx, append([]string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags...)...)
		requireExit(t, r, 0, fwName+": recreate v3.0.15 -> v3.0.16", "compose file "+p.File+": written")

		removed, added := changed(t, orig, readText(t, p.File))
		if want := []string{"    image: ${REG:-" + addr + "}/tarscloud/framework:v3.0.15 # kept by ops"}; !slices.Equal(removed, want) {
			t.Errorf("lines changed %q, want %q", removed, want)
		}
		if want := []string{"    image: ${REG:-" + addr + "}/tarscloud/framework:v3.0.16 # kept by ops"}; !slices.Equal(added, want) {
			t.Errorf("lines now %q, want %q", added, want)
		}
		fw := inspect(t, ctx, bed.Local, fwName)
		if fw.ID == before.ID || fw.Config.Image != fwRepo+":v3.0.16" || !fw.State.Running {
			t.Errorf("framework: ID %s (was %s), image %s, running %t", fw.ID, before.ID, fw.Config.Image, fw.State.Running)
		}
		p.requireAllUp(ctx, fwName)
		// docker-compose reads the edited file as naming what runs.
		out, err := p.compose(ctx, "config")
		if err != nil {
			t.Fatalf("docker-compose config: %v\n%s", err, out)
		}
		if !strings.Contains(out, "image: "+fwRepo+":v3.0.16\n") {
			t.Errorf("docker-compose config does not name %s:v3.0.16:\n%s", fwRepo, out)
		}
	})

	t.Run("tag variable set in .env", func(t *testing.T) {
		ctx := t.Context()
		subnet := bed.Local.Subnet(122)
		ip3 := testbed.HostIP(subnet, 3)
		prefix := uniq("cve-")
		p := newComposeProject(t, bed.Local, t.TempDir(), "e2e-"+bed.RunID+"-cve", "vars.yaml", map[string]string{
			"IMAGE": fwRepo + ":${TARS_VERSION}", "PREFIX": prefix, "SUBNET": subnet, "IP3": ip3,
		})
		envFile := filepath.Join(p.Dir, ".env")
		origEnv := "# the Tars release\nTARS_VERSION=\"v3.0.15\" # pinned\n"
		writeText(t, envFile, origEnv)
		p.up(ctx, net.JoinHostPort(ip3, "17890"))
		fwName := prefix + "framework"
		before := inspect(t, ctx, bed.Local, fwName)
		if before.Config.Image != fwRepo+":v3.0.15" {
			t.Fatalf("docker-compose created %s from %s, want %s:v3.0.15", fwName, before.Config.Image, fwRepo)
		}
		orig := readText(t, p.File)
		args := append([]string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags...)

		// The same variable set in the process environment wins over .env:
		// refused, naming the line and the variable, and nothing changes.
		r := testbed.RunEnv(ctx, []string{"TARS_VERSION=v3.0.15"}, bed.Tarsup(t), args...)
		requireExit(t, r, 2, p.File+":6 takes TARS_VERSION from the process environment", "nothing was changed")
		if readText(t, envFile) != origEnv || readText(t, p.File) != orig || inspect(t, ctx, bed.Local, fwName).ID != before.ID {
			t.Fatalf("the refused upgrade changed a file or the container")
		}

		r = tarsup(t, ctx, append(args, "--dry-run")...)
		requireExit(t, r, 0, "--- "+envFile, "-TARS_VERSION=\"v3.0.15\" # pinned\n", "+TARS_VERSION=\"v3.0.16\" # pinned\n")
		if strings.Contains(r.Stdout, "--- "+p.File) {
			t.Errorf("the dry run would edit the compose file:\n%s", r)
		}
		if readText(t, envFile) != origEnv || inspect(t, ctx, bed.Local, fwName).ID != before.ID {
			t.Fatalf("the dry run changed .env or the container")
		}

		r = tarsup(t, ctx, args...)
		requireExit(t, r, 0, fwName+": recreate v3.0.15 -> v3.0.16", "compose file "+envFile+": written")
		if got := readText(t, p.File); got != orig {
			t.Errorf("the compose file changed:\n%s", got)
		}
		if got, want := readText(t, envFile), "# the Tars release\nTARS_VERSION=\"v3.0.16\" # pinned\n"; got != want {
			t.Errorf(".env is\n%s\nwant\n%s", got, want)
		}
		fw := inspect(t, ctx, bed.Local, fwName)
		if fw.ID == before.ID || fw.Config.Image != fwRepo+":v3.0.16" || !fw.State.Running {
			t.Errorf("framework: ID %s (was %s), image %s, running %t", fw.ID, before.ID, fw.Config.Image, fw.State.Running)
		}
		p.requireAllUp(ctx, fwName)
		out, err := p.compose(ctx, "config")
		if err != nil {
			t.Fatalf("docker-compose config: %v\n%s", err, out)
		}
		if !strings.Contains(out, "image: "+fwRepo+":v3.0.16\n") {
			t.Errorf("docker-compose config does not name %s:v3.0.16:\n%s", fwRepo, out)
		}
	})
}
