//go:build e2e

package tests

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tarsup/tarsup/tests/testbed"
)

// What the demo promises (tests/demo, README Quick start).
const (
	demoLabel  = "tarsup.demo=lab"
	demoPrefix = "tarsup-demo-"
	demoSubnet = "172.31.250.0/24"
)

// demoHeadings are the steps of `make demo`, in order.
var demoHeadings = []string{
	"== 1. Stand-in images, served from a registry on 127.0.0.1",
	"== 2. The lab: TarsDocs' layout on ",
	"== 3. tarsup status",
	"== 4. The dry run of an upgrade to v3.0.16",
	"== 5. The upgrade to v3.0.16, with its health gates",
	"== 6. An upgrade to a broken image, rolled back by itself (exit 1)",
	"== 7. refresh after the node's tag moved",
	"== 8. Against a real deployment",
}

// runMake runs make TARGET in the module root, as a user would, and returns
// its combined output and exit code.
func runMake(t *testing.T, ctx context.Context, target string) (string, int) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "make", "-C", root, target)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok || !exit.Exited() {
			t.Fatalf("make %s: %v\n%s", target, err, out.String())
		}
		code = exit.ExitCode()
	}
	t.Logf("make %s: exit %d", target, code)
	return out.String(), code
}

// TestDemo drives `make demo` and `make demo-down` (issue 12, part 7): a
// refusal when the lab's subnet is taken, the demo's steps and what they
// did to the lab, a second run over the first, and a demo-down that leaves
// nothing of the lab and everything else.
func TestDemo(t *testing.T) {
	ctx := t.Context()
	mariadb, err := bed.MariaDB(ctx, bed.Local)
	if err != nil {
		t.Fatal(err)
	}
	// A lab left up (by make demo) would hold the subnet: down first.
	if out, code := runMake(t, ctx, "demo-down"); code != 0 {
		t.Fatalf("make demo-down exited %d:\n%s", code, out)
	}
	d := bed.On(ctx, t, bed.Local)
	keep := demoBystanders(t, ctx, d)

	t.Run("subnet taken", func(t *testing.T) { testDemoRefusesTakenSubnet(t, ctx) })
	if t.Failed() {
		return
	}

	before := engineObjects(t, ctx)
	out, code := runMake(t, ctx, "demo")
	if code != 0 {
		t.Fatalf("make demo exited %d:\n%s", code, out)
	}
	checkDemoOutput(t, out)
	checkDemoLab(t, ctx)

	// Twice in a row: the second takes the first lab down, then runs whole.
	out, code = runMake(t, ctx, "demo")
	if code != 0 || !strings.Contains(out, "An earlier lab is up on "+bed.Local.Host+": taking it down first") {
		t.Fatalf("a second make demo exited %d:\n%s", code, out)
	}
	checkDemoOutput(t, out)
	checkDemoLab(t, ctx)

	// An image of the lab also tagged by somebody else keeps that tag.
	foreign := "tarsup-e2e-keep/" + strings.ReplaceAll(bed.RunID, "-", "") + ":demo"
	if err := bed.Local.Client.ImageTag(ctx, labImageRef(t, ctx), foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bed.Local.Client.ImageRemove(context.WithoutCancel(ctx), foreign, image.RemoveOptions{})
	})

	out, code = runMake(t, ctx, "demo-down")
	if code != 0 || !strings.Contains(out, "demo-down: removed from "+bed.Local.Host) {
		t.Fatalf("make demo-down exited %d:\n%s", code, out)
	}
	checkNothingOfTheLab(t, ctx)
	checkStillThere(t, ctx, before, keep)
	for _, ref := range []string{foreign, mariadb, bed.Images.Nginx} {
		if _, err := bed.Local.Client.ImageInspect(ctx, ref); err != nil {
			t.Errorf("demo-down removed the image %s too: %v", ref, err)
		}
	}
	out, code = runMake(t, ctx, "demo-down")
	if code != 0 || !strings.Contains(out, "demo-down: no lab on "+bed.Local.Host) {
		t.Errorf("make demo-down with no lab exited %d:\n%s", code, out)
	}
}

// demoBystanders makes what demo-down must leave: objects named like the
// lab's without its label, and objects with its label but not its names
// (each also carries the bed's labels, so that the test removes it). It
// returns their names.
func demoBystanders(t *testing.T, ctx context.Context, d *testbed.Deployer) []string {
	t.Helper()
	bedLabels := map[string]string{testbed.RunLabel: bed.RunID, testbed.CaseLabel: t.Name(), "tarsup.demo": "lab"}
	named := demoPrefix + "bystander-" + bed.RunID
	labelled := uniq("demo-labelled")
	d.Network(named, bed.Local.Subnet(220))
	if _, err := bed.Local.Client.NetworkCreate(ctx, labelled, network.CreateOptions{Driver: "bridge", Labels: bedLabels,
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: bed.Local.Subnet(221)}}}}); err != nil {
		t.Fatal(err)
	}
	d.Volume(named)
	if _, err := bed.Local.Client.VolumeCreate(ctx, volume.CreateOptions{Name: labelled, Labels: bedLabels}); err != nil {
		t.Fatal(err)
	}
	d.Run(testbed.ContainerSpec{Name: named, Image: bed.Images.Nginx, Networks: []testbed.Attachment{{Network: named}}})
	d.Run(testbed.ContainerSpec{Name: labelled, Image: bed.Images.Nginx, Labels: map[string]string{"tarsup.demo": "lab"},
		Networks: []testbed.Attachment{{Network: labelled}}})
	return []string{named, labelled}
}

// testDemoRefusesTakenSubnet holds the lab's subnet with a network of the
// test's: make demo refuses, naming it, and makes nothing.
func testDemoRefusesTakenSubnet(t *testing.T, ctx context.Context) {
	d := bed.On(ctx, t, bed.Local)
	squatter := uniq("demo-squatter")
	d.Network(squatter, demoSubnet)
	out, code := runMake(t, ctx, "demo")
	if code != 2 || !strings.Contains(out, "network "+squatter+" has subnet "+demoSubnet) ||
		!strings.Contains(out, "nothing was changed") {
		t.Errorf("make demo with %s taken exited %d, want 2 naming the network:\n%s", demoSubnet, code, out)
	}
	if strings.Contains(out, "== 1.") {
		t.Errorf("make demo went on after its refusal:\n%s", out)
	}
	checkNothingOfTheLab(t, ctx)
}

// checkDemoOutput checks that each step ran and said what it did.
func checkDemoOutput(t *testing.T, out string) {
	t.Helper()
	at := 0
	for _, h := range demoHeadings {
		i := strings.Index(out[at:], h)
		if i < 0 {
			t.Fatalf("make demo printed no heading %q after offset %d:\n%s", h, at, out)
		}
		at += i
	}
	steps := demoSteps(out)
	for _, want := range []string{"STAND-INS", "not the real", "a real MariaDB"} {
		if !strings.Contains(steps[1], want) {
			t.Errorf("step 1 does not say %q:\n%s", want, steps[1])
		}
	}
	for i, cmd := range map[int]string{3: "$ ./bin/tarsup status --only ", 4: "$ ./bin/tarsup upgrade --to v3.0.16 --parallel 2 ",
		5: "$ ./bin/tarsup upgrade --to v3.0.16 --parallel 2 ", 6: "$ ./bin/tarsup upgrade --framework-image ", 7: "$ ./bin/tarsup refresh "} {
		if !strings.Contains(steps[i], cmd) {
			t.Errorf("step %d shows no command line %q:\n%s", i, cmd, steps[i])
		}
	}
	for i, code := range map[int]string{3: "(exit 0)", 4: "(exit 0)", 5: "(exit 0)", 6: "(exit 1)", 7: "(exit 0)"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(code) + `$`).MatchString(steps[i]) {
			t.Errorf("step %d has no line %s:\n%s", i, code, steps[i])
		}
	}
	for _, want := range []string{" --dry-run\n", "tarsup-demo-framework: recreate v3.0.15 -> v3.0.16", "tarsup-demo-node2: recreate latest -> latest"} {
		if !strings.Contains(steps[4], want) {
			t.Errorf("the dry run does not show %q:\n%s", want, steps[4])
		}
	}
	for _, want := range []string{`tarsup-demo-framework\s+v3\.0\.16\s+v3\.0\.16-neverhealthy\s+rolled back`, `tarsup-demo-slave\s+v3\.0\.16\s+v3\.0\.16-neverhealthy\s+skipped`} {
		if !regexp.MustCompile(want).MatchString(steps[6]) {
			t.Errorf("the broken upgrade's report has no line matching %q:\n%s", want, steps[6])
		}
	}
	if !strings.Contains(steps[7], "refresh: 4 containers checked, 2 tags, 2 moved") {
		t.Errorf("refresh does not say the node's tag moved:\n%s", steps[7])
	}
	if !strings.Contains(steps[6], "Exit 1 is tarsup's code for a step that failed and was rolled back") {
		t.Errorf("the rollback step does not explain its exit 1:\n%s", steps[6])
	}
	for i, rows := range map[int][]string{
		5: {`tarsup-demo-framework .* recreated \(was \w+, v3\.0\.15\)`, `tarsup-demo-node1 .* recreated`, `tarsup-demo-mysql .* kept`},
		6: {`tarsup-demo-framework .*framework:v3\.0\.16 .* kept`, `tarsup-demo-slave .* kept`, `tarsup-demo-node2 .* kept`},
		7: {`tarsup-demo-node1 .* recreated \(was \w+, build 1\)`, `tarsup-demo-node2 .* recreated \(was \w+, build 1\)`,
			`tarsup-demo-framework .* kept`, `tarsup-demo-slave .* kept`},
	} {
		for _, row := range rows {
			if !regexp.MustCompile(row).MatchString(steps[i]) {
				t.Errorf("step %d's lab table has no row matching %q:\n%s", i, row, steps[i])
			}
		}
	}
	if !strings.Contains(steps[8], "./bin/tarsup upgrade --to v3.0.16 --dry-run") || !strings.Contains(steps[8], "make demo-down removes the lab") {
		t.Errorf("the demo does not end with the commands for a real deployment and make demo-down:\n%s", steps[8])
	}
}

// demoSteps splits the demo's output at its headings: steps[n] is step n's.
func demoSteps(out string) map[int]string {
	steps := map[int]string{}
	parts := regexp.MustCompile(`(?m)^== (\d+)\. `).FindAllStringSubmatchIndex(out, -1)
	for i, p := range parts {
		end := len(out)
		if i+1 < len(parts) {
			end = parts[i+1][0]
		}
		n := 0
		for _, c := range out[p[2]:p[3]] {
			n = n*10 + int(c-'0')
		}
		steps[n] = out[p[0]:end]
	}
	return steps
}

// checkDemoLab checks the lab the demo leaves, with the engine as witness:
// the framework hosts on v3.0.16 (not the broken build), the nodes on the
// build refresh moved them to, each at its TarsDocs address, running.
func checkDemoLab(t *testing.T, ctx context.Context) {
	t.Helper()
	for name, want := range map[string]struct{ ip, tag, build string }{
		"tarsup-demo-mysql":     {ip: "172.31.250.2"},
		"tarsup-demo-framework": {ip: "172.31.250.3", tag: "/tarsup-demo/tarscloud/framework:v3.0.16"},
		"tarsup-demo-slave":     {ip: "172.31.250.4", tag: "/tarsup-demo/tarscloud/framework:v3.0.16"},
		"tarsup-demo-node1":     {ip: "172.31.250.5", tag: "/tarsup-demo/tarscloud/tars-node:latest", build: "2"},
		"tarsup-demo-node2":     {ip: "172.31.250.6", tag: "/tarsup-demo/tarscloud/tars-node:latest", build: "2"},
	} {
		in := inspect(t, ctx, bed.Local, name)
		if !in.State.Running || in.Config.Labels["tarsup.demo"] != "lab" {
			t.Errorf("%s: running %t, labels %v", name, in.State.Running, in.Config.Labels)
		}
		if ep := in.NetworkSettings.Networks["tarsup-demo-internal"]; ep == nil || ep.IPAddress != want.ip {
			t.Errorf("%s is not at %s on tarsup-demo-internal: %+v", name, want.ip, in.NetworkSettings.Networks)
		}
		if want.tag != "" && !strings.HasSuffix(in.Config.Image, want.tag) {
			t.Errorf("%s runs %s, want ...%s", name, in.Config.Image, want.tag)
		}
		if got := in.Config.Labels["org.opencontainers.image.revision"]; want.build != "" && got != want.build {
			t.Errorf("%s runs build %q of its node image, want %s (refresh moved it)", name, got, want.build)
		}
	}
}

// labImageRef returns a reference of an image the lab pulled.
func labImageRef(t *testing.T, ctx context.Context) string {
	t.Helper()
	in := inspect(t, ctx, bed.Local, "tarsup-demo-node1")
	return in.Config.Image
}

// objects are an engine's containers, volumes and networks: name -> labels.
type objects map[string]map[string]string

// engineObjects lists every container, volume and network of the local
// engine, by kind and name.
func engineObjects(t *testing.T, ctx context.Context) map[string]objects {
	t.Helper()
	cli := bed.Local.Client
	all := map[string]objects{"container": {}, "volume": {}, "network": {}}
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		all["container"][strings.TrimPrefix(c.Names[0], "/")] = c.Labels
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Volumes {
		all["volume"][v.Name] = v.Labels
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		all["network"][n.Name] = n.Labels
	}
	return all
}

// checkNothingOfTheLab checks that nothing with the demo's label and name
// prefix is left, and no image reference from a demo's registry.
func checkNothingOfTheLab(t *testing.T, ctx context.Context) {
	t.Helper()
	for kind, objs := range engineObjects(t, ctx) {
		for name, labels := range objs {
			if labels["tarsup.demo"] == "lab" && strings.HasPrefix(name, demoPrefix) {
				t.Errorf("%s %s of the lab is left", kind, name)
			}
		}
	}
	ims, err := bed.Local.Client.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", demoLabel))})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range ims {
		for _, r := range append(im.RepoTags, im.RepoDigests...) {
			if strings.Contains(r, "/tarsup-demo/") {
				t.Errorf("image %s of the lab is left", r)
			}
		}
	}
}

// checkStillThere checks that every object of before, and each of keep,
// is still on the engine. An object gone that another run of the test bed
// made (other runs share the machine), or another tarsup's engine lock, is
// that run's or that tarsup's doing.
func checkStillThere(t *testing.T, ctx context.Context, before map[string]objects, keep []string) {
	t.Helper()
	now := engineObjects(t, ctx)
	for kind, objs := range before {
		for name, labels := range objs {
			if _, ok := now[kind][name]; ok {
				continue
			}
			if run, ok := labels[testbed.RunLabel]; ok && run != bed.RunID {
				t.Logf("%s %s of test run %s went meanwhile (its run removed it)", kind, name, run)
				continue
			}
			if _, ok := labels["tarsup.lock"]; ok {
				continue
			}
			t.Errorf("%s %s, which was there before make demo, is gone", kind, name)
		}
	}
	for _, name := range keep {
		for _, kind := range []string{"container", "volume", "network"} {
			if _, ok := now[kind][name]; !ok {
				t.Errorf("demo-down removed the bystander %s %s", kind, name)
			}
		}
	}
}
