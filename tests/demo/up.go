package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/tarsup/tarsup/tests/testbed"
)

// demo is one `make demo`: the engine, the registry, the images, the lab.
type demo struct {
	p      *printer
	bin    string
	eng    *testbed.Engine
	reg    *testbed.Registry
	im     *standIns
	dep    *testbed.TarsDeployment
	before snapshot // the lab before the step under way
}

// up is `make demo`: take an earlier lab down, check that the subnet and
// the names are free, build and serve the stand-ins, lay out the lab and
// run the steps. The lab stays up.
func up(ctx context.Context, out io.Writer, bin string) error {
	d := &demo{p: &printer{out: out}, bin: bin}
	d.p.say("tarsup demo: a TarsDocs-style Tars lab on this machine's Docker Engine, and tarsup run against it step by step.",
		"The Tars images of this lab are STAND-INS built from tarsup's test fakes (tests/fake/tarsfake), not the real",
		"tarscloud/* images: they behave as TarsDocs says the real ones do (ports, SLAVE, REBUILD, WEB_HOST, /get_tarsnode),",
		"in a few megabytes and seconds. Everything the lab is made of has the label "+Label+"="+LabelValue+" and a name starting "+Prefix+".")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w: no tarsup binary at %s (make build makes it; make demo runs it first): %w", errRefused, bin, err)
	}
	eng, err := testbed.Local(ctx)
	if err != nil {
		return err
	}
	defer eng.Client.Close()
	d.eng = eng
	if err := d.prepare(ctx); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "tarsup-demo-")
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(work)
	if err := d.images(ctx, work); err != nil {
		return err
	}
	defer d.reg.Close()
	if err := catch(func() error { return d.layOut(ctx) }); err != nil {
		return fmt.Errorf("lay out the lab: %w", err)
	}
	for _, step := range []func(context.Context) error{d.status, d.dryRun, d.upgrade, d.broken, d.refresh} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	d.end()
	return nil
}

// prepare takes down an earlier lab and checks that what the lab needs is free.
func (d *demo) prepare(ctx context.Context) error {
	found, err := labObjects(ctx, d.eng)
	if err != nil {
		return err
	}
	if !found.empty() {
		d.p.say("", "An earlier lab is up on "+d.eng.Host+": taking it down first (as make demo-down does).")
		if err := removeLab(ctx, d.eng, found, d.p.out); err != nil {
			return err
		}
	}
	var addrs []net.Addr
	if strings.HasPrefix(d.eng.Host, "unix://") {
		// Why only then: a local socket's engine routes through this
		// machine's interfaces; a remote engine's are not ours to see.
		if addrs, err = net.InterfaceAddrs(); err != nil {
			return fmt.Errorf("this machine's addresses: %w", err)
		}
	}
	return checkFree(ctx, d.eng, addrs)
}

// images builds the fake into work and serves the stand-ins.
func (d *demo) images(ctx context.Context, work string) error {
	d.p.heading("Stand-in images, served from a registry on 127.0.0.1")
	fake, err := testbed.BuildFake(ctx, work)
	if err != nil {
		return err
	}
	if d.reg, err = testbed.StartRegistry(ctx); err != nil {
		return err
	}
	if d.im, err = pushStandIns(ctx, d.reg, fake); err != nil {
		d.reg.Close()
		return err
	}
	if err := d.im.database(ctx, d.p.out, d.eng); err != nil {
		d.reg.Close()
		return err
	}
	d.p.say("",
		"Built from tests/fake/tarsfake: STAND-INS, not the real tarscloud/* images. The registry runs in this demo",
		"process at "+d.reg.Addr+" (Docker pulls from 127.0.0.1 over plain HTTP) and stops when the demo ends:",
		"  "+d.im.From+"   the lab's framework",
		"  "+d.im.To+"   the next release",
		"  "+d.im.Broken+"   a broken build: it never answers",
		"  "+d.im.Node+"   the node's floating tag (it moves)")
	return nil
}
