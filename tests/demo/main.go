// Command demo is `make demo` and `make demo-down`: a lab to try tarsup on,
// for somebody without a Tars deployment at hand.
//
//	go run ./tests/demo -tarsup bin/tarsup up    make demo
//	go run ./tests/demo down                     make demo-down
//
// up builds STAND-IN Tars images from tarsup's test fakes (tests/fake/tarsfake,
// not the real tarscloud/* images), serves them from a registry on 127.0.0.1
// that lives as long as the demo runs, lays out a TarsDocs-style lab on the
// local Docker Engine (tests/testbed: a database, a framework master, a second
// framework host with SLAVE=true and two nodes, static IPs on one
// user-defined network, data on volumes) and runs the tarsup binary against
// it step by step, each under a heading with its exact command line: status,
// the dry run of an upgrade to the next version, the upgrade itself, an
// upgrade to a never-healthy image that rolls itself back (exit 1), and a
// refresh after a node's tag moved. The lab stays up afterwards.
//
// Everything the lab is made of carries the label tarsup.demo=lab and a name
// that starts with tarsup-demo-: the network tarsup-demo-internal
// (172.31.250.0/24, a subnet of its own that no test uses), the containers
// tarsup-demo-mysql, -framework, -slave, -node1 and -node2, their volumes
// tarsup-demo-*-data, and the images pulled from the demo's registry
// (127.0.0.1:PORT/tarsup-demo/...). down removes exactly that, and up takes
// an earlier lab down first. up refuses (exit 2, before anything is made)
// when the subnet or one of the names is taken by something else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errRefused marks a refusal before anything was made: exit 2.
var errRefused = errors.New("refused")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program: it parses args, runs up or down and returns the exit
// code (0 done, 1 failed, 2 bad usage or refused before anything changed).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("tarsup", "bin/tarsup", "the tarsup binary the steps run (make builds it)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tests/demo [-tarsup bin/tarsup] up|down  (make demo, make demo-down)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := "up"
	switch fs.NArg() {
	case 0:
	case 1:
		cmd = fs.Arg(0)
	default:
		fs.Usage()
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "up":
		err = up(ctx, stdout, *bin)
	case "down":
		err = down(ctx, stdout)
	default:
		fmt.Fprintf(stderr, "demo: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errRefused):
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "demo: %v\n", err)
		if cmd == "up" {
			fmt.Fprintln(stderr, "demo: what the lab got to is left as it is; `make demo-down` removes it")
		}
		return 1
	}
}
