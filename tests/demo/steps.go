package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tarsup/tarsup/swapname"
	"github.com/tarsup/tarsup/tests/testbed"
)

// gates are the gate flags of a step that changes the lab, short for
// stand-ins that start in a second; healthTimeout bounds the wait for a
// new container's first healthy answer. --register-timeout goes only with
// a real database: given on the command line, it demands the check.
func (d *demo) gates(healthTimeout string) []string {
	f := []string{"--health-timeout", healthTimeout, "--monitor", "2s"}
	if d.im.MariaDB {
		f = append(f, "--register-timeout", "30s")
	}
	return append(f, "--lock-wait", "2m")
}

// only limits a tarsup command to the lab's Tars containers.
func only() []string {
	var out []string
	for _, n := range tarsNames() {
		out = append(out, "--only", n)
	}
	return out
}

// layOut lays the lab out as TarsDocs does and shows it.
func (d *demo) layOut(ctx context.Context) error {
	d.p.heading("The lab: TarsDocs' layout on " + d.eng.Host)
	dp := testbed.NewLabDeployer(ctx, labT{out: d.p.out}, map[string]string{Label: LabelValue}, d.eng, nil)
	l := testbed.TarsLayout{Prefix: Prefix, Subnet: Subnet, Nodes: len(nodeNames), Slave: true,
		FrameworkImage: d.im.From, NodeImage: d.im.Node}
	if d.im.MariaDB {
		l.MariaDB = d.im.DB
	} else {
		l.DBImage = d.im.DB
	}
	d.dep = dp.TarsDocs(l)
	d.p.say(
		"One user-defined bridge network, "+netName+" ("+Subnet+"), with static IPs as TarsDocs gives them: the database .2,",
		"the framework master .3, a second framework host (SLAVE=true, REBUILD=false, on the same database) .4, the nodes .5",
		"and .6 (WEB_HOST="+d.dep.WebHost+"); /data/tars of each (and the database's data) on a named volume; restart always.")
	if d.im.MariaDB {
		d.p.say("The framework created the Tars databases in MariaDB (db_tars, tars_stat, tars_property, db_tars_web, db_user_system,",
			"db_cache_web); the framework hosts and the nodes registered in db_tars.t_node_info and heartbeat there.")
	}
	return d.look(ctx, nil)
}

// look shows the lab, compared with before (nil: the first look), and
// keeps it as the next step's before.
func (d *demo) look(ctx context.Context, before snapshot) error {
	now, err := observe(ctx, d.eng)
	if err != nil {
		return err
	}
	d.p.say("", "The lab now (docker inspect):")
	d.p.table(now, before, d.reg.Addr)
	d.before = now
	return nil
}

// status publishes the release (the node's tag moves with it) and runs
// tarsup status on the lab.
func (d *demo) status(ctx context.Context) error {
	d.p.heading("tarsup status")
	if err := d.im.moveNode(ctx, toVersion, "1"); err != nil {
		return err
	}
	d.p.say("The release is out: framework "+toVersion+" is in the registry, and tars-node:latest was pushed again just now as",
		"a "+toVersion+" build (tars-node has no version tags: a node upgrade is a new digest behind the same tag).",
		"status lists each container with its role (from the image's repository), version, whether an update is available",
		"(manifest HEADs and the framework's tag list, nothing pulled), health (probed the Tars way: the registry's port",
		"17890 and the master's GET /get_tarsnode, tarsnode's 19385), REBUILD, addresses and, where the database answers, each",
		"node's registration in db_tars.t_node_info. Read-only. --only keeps it, and every command below, to the lab's",
		"containers: without it, tarsup takes every Tars container of the engine.", "")
	_, err := d.p.runTarsup(ctx, d.bin, 0, append([]string{"status", "--only", dbName}, only()...)...)
	return err
}

// dryRun shows the plan of the upgrade.
func (d *demo) dryRun(ctx context.Context) error {
	d.p.heading("The dry run of an upgrade to " + toVersion)
	d.p.say("The upgrade's command line with --dry-run: it asks the registry for digests (manifest HEADs, nothing is pulled),",
		"prints the plan in the Tars order (the master, the other framework hosts, the nodes) with the cause of each step",
		"and the policy of each phase, and changes nothing.", "")
	_, err := d.p.runTarsup(ctx, d.bin, 0, append(d.upgradeArgs(), "--dry-run")...)
	return err
}

// upgradeArgs are the upgrade's command line, the same for its dry run.
func (d *demo) upgradeArgs() []string {
	return append(append([]string{"upgrade", "--to", toVersion, "--parallel", "2"}, d.gates("30s")...), only()...)
}

// upgrade runs the upgrade and checks that each Tars container was
// recreated at its address on the new version, the database left alone.
func (d *demo) upgrade(ctx context.Context) error {
	d.p.heading("The upgrade to " + toVersion + ", with its health gates")
	d.p.say("The pulls come first, before anything changes; REBUILD=true would be refused. Then the master, the other framework",
		"host, and the nodes two at a time (--parallel 2): each is recreated with its settings (static IP, volume, environment,",
		"restart policy) while the old container is kept aside, until the new one passes its gate: healthy within",
		"--health-timeout, then still up after --monitor. After the framework steps and after the node steps, the registration",
		"check reads db_tars.t_node_info: every node active again at its own IP, and heartbeating. Short gates, for stand-ins",
		"that start in a second; a real framework waits for MySQL and restarts every service: keep the defaults there.", "")
	if _, err := d.p.runTarsup(ctx, d.bin, 0, d.upgradeArgs()...); err != nil {
		return err
	}
	wants := map[string]want{dbName: {}}
	for _, n := range tarsNames() {
		wants[n] = want{recreated: true, version: toVersion}
	}
	return d.verify(ctx, wants, "Each framework host and node is a new container at its own address, on "+toVersion+"; the database was not touched.")
}

// broken upgrades the frameworks to a never-healthy build, which tarsup
// rolls back by itself: exit 1, and the lab as it was.
func (d *demo) broken(ctx context.Context) error {
	d.p.heading("An upgrade to a broken image, rolled back by itself (exit 1)")
	d.p.say("--framework-image names "+brokenTag+": the same version, a build whose framework never answers.", "")
	args := append(append([]string{"upgrade", "--framework-image", d.im.Broken}, d.gates("8s")...), only()...)
	if _, err := d.p.runTarsup(ctx, d.bin, 1, args...); err != nil {
		return err
	}
	d.p.say("",
		"Exit 1 is tarsup's code for a step that failed and was rolled back. The new "+fwName+" never answered on",
		"17890 within --health-timeout 8s, so tarsup kept it aside as "+fwName+swapname.Failed+", gave the old",
		"container its name back, started it and gated it again (healthy), then removed the failed one. A failed framework",
		"step stops the run: the slave and the nodes were not touched.")
	wants := map[string]want{dbName: {}, fwName: {image: d.im.To}}
	for _, n := range tarsNames()[1:] {
		wants[n] = want{}
	}
	return d.verify(ctx, wants, "The same containers as before the step (look at the IDs), still on "+toVersion+", nothing left over.")
}

// refresh moves the node's tag and runs refresh, which recreates the nodes
// only.
func (d *demo) refresh(ctx context.Context) error {
	d.p.heading("refresh after the node's tag moved")
	if err := d.im.moveNode(ctx, toVersion, "2"); err != nil {
		return err
	}
	d.p.say("tars-node:latest was pushed again just now: a rebuild of "+toVersion+" (build 2), a new digest behind the same tag.",
		"refresh is the command for cron: one manifest HEAD per repository:tag, nothing pulled when nothing moved, and an",
		"upgrade of only the containers whose tag moved: here the two nodes, not the framework hosts.", "")
	args := append(append([]string{"refresh"}, d.gates("30s")...), only()...)
	if _, err := d.p.runTarsup(ctx, d.bin, 0, args...); err != nil {
		return err
	}
	wants := map[string]want{dbName: {}, fwName: {}, slaveName: {}}
	for _, n := range nodeNames {
		wants[n] = want{recreated: true, version: toVersion, build: "2"}
	}
	return d.verify(ctx, wants, "The nodes moved to build 2 of "+toVersion+", each at its own address; the framework hosts were kept.")
}

// want is what a step must leave under one name.
type want struct {
	recreated bool   // a new container (else the same one)
	version   string // its version label, if set
	build     string // its build label, if set
	image     string // its image reference, if set
}

// verify shows the lab and checks it against wants: every name running at
// its old address, recreated or kept as wanted, no swap's temporary name
// left. It says ok when all holds, and errs naming what does not.
func (d *demo) verify(ctx context.Context, wants map[string]want, ok string) error {
	before := d.before
	if err := d.look(ctx, before); err != nil {
		return err
	}
	if bad := mismatches(before, d.before, wants); len(bad) > 0 {
		return fmt.Errorf("the lab is not as this step should leave it: %s", strings.Join(bad, "; "))
	}
	d.p.say("", ok)
	return nil
}

// mismatches lists how after differs from what wants says of it.
func mismatches(before, after snapshot, wants map[string]want) []string {
	var bad []string
	for name := range after {
		if swapname.IsTemporary(name) {
			bad = append(bad, name+" is left behind")
		}
	}
	for name, w := range wants {
		a, ok := after[name]
		b := before[name]
		switch {
		case !ok:
			bad = append(bad, name+" is gone")
			continue
		case w.recreated && a.ID == b.ID:
			bad = append(bad, name+" was not recreated")
		case !w.recreated && a.ID != b.ID:
			bad = append(bad, name+" was recreated")
		}
		if a.State != "running" {
			bad = append(bad, name+" is "+a.State)
		}
		if a.IP != b.IP {
			bad = append(bad, fmt.Sprintf("%s moved from %s to %s", name, b.IP, a.IP))
		}
		for _, f := range [][3]string{{"version", w.version, a.Version}, {"build", w.build, a.Build}, {"image", w.image, a.Image}} {
			if f[1] != "" && f[1] != f[2] {
				bad = append(bad, fmt.Sprintf("%s has %s %q, not %q", name, f[0], f[2], f[1]))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// end says what to run against a real deployment, and how the lab goes.
func (d *demo) end() {
	d.p.heading("Against a real deployment")
	d.p.say("On the Docker host of a Tars deployment (as root or a member of the docker group), from this checkout (README,",
		"Quick start): the plan first, then the upgrade, then a look:",
		"",
		"  make build && ./bin/tarsup upgrade --to "+toVersion+" --dry-run",
		"  ./bin/tarsup upgrade --to "+toVersion,
		"  ./bin/tarsup status",
		"",
		"and, to follow the tags from cron (README, refresh):",
		"",
		"  17 * * * * /usr/local/bin/tarsup refresh --log-format json >>/var/log/tarsup.log 2>&1",
		"",
		"The lab is left up to look at: docker ps --filter label="+Label+"="+LabelValue+", ./bin/tarsup status. Its registry",
		"stopped with the demo, so tarsup can no longer pull new images for it; make demo starts afresh.",
		"make demo-down removes the lab (its containers, volumes and network, and the images pulled from the demo's",
		"registry) and nothing else.")
}
