package main

import (
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/urfave/cli/v2"
)

// connFlags are the engine and logging flags every command takes. They are
// built anew per command: urfave/cli flags hold state.
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "host", Aliases: []string{"H"}, Usage: "Docker Engine `URL` (unix:// or tcp://); repeat for several engines (default $DOCKER_HOST, else unix:///var/run/docker.sock)"},
		&cli.StringFlag{Name: "inventory", Usage: "YAML `FILE` listing engines with their own TLS material (README: Inventory); adds to --host"},
		&cli.BoolFlag{Name: "tlsverify", Usage: "use TLS and verify the engine (default $DOCKER_TLS_VERIFY)"},
		&cli.BoolFlag{Name: "tls", Usage: "use TLS without verifying the engine; implied by --tlsverify"},
		&cli.StringFlag{Name: "tlscacert", Usage: "trust certs signed only by this CA (default $DOCKER_CERT_PATH/ca.pem)"},
		&cli.StringFlag{Name: "tlscert", Usage: "TLS certificate file (default $DOCKER_CERT_PATH/cert.pem)"},
		&cli.StringFlag{Name: "tlskey", Usage: "TLS key file (default $DOCKER_CERT_PATH/key.pem)"},
		&cli.BoolFlag{Name: "insecure", Usage: "allow a plain tcp:// engine on a non-loopback address (anyone on the network could drive it)"},
		&cli.StringFlag{Name: "announce", Value: plan.AnnounceAuto, Usage: "whether a health gate's sidecar announces a new container's IPv4 addresses (gratuitous ARP) as it starts, so that clients reach it at once: auto (engines before Docker 28, which do not announce themselves), on, off"},
		&cli.StringFlag{Name: "probe", Value: health.ProbeAuto, Usage: "how Tars probes reach containers: auto (direct on local engines, sidecar on tcp:// engines), direct, sidecar"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format on stderr: text or json"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error"},
	}
}

// hostSpecs reads the connection flags, with the docker CLI's environment defaults.
func hostSpecs(c *cli.Context, e *env) ([]engine.HostSpec, error) {
	var urls []string
	for _, v := range c.StringSlice("host") {
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
	}
	tls := flagTLS(c)
	var specs []engine.HostSpec
	if inv := c.String("inventory"); inv != "" {
		fromFile, err := engine.LoadInventory(inv)
		if err != nil {
			return nil, err
		}
		specs = fromFile
		if len(urls) > 0 {
			specs = append(specs, engine.HostsFromFlags(urls, tls, c.Bool("insecure"), e.getenv)...)
		}
	} else {
		specs = engine.HostsFromFlags(urls, tls, c.Bool("insecure"), e.getenv)
	}
	for _, s := range specs {
		if err := engine.ValidateHost(s); err != nil {
			return nil, err
		}
	}
	return specs, nil
}

// flagTLS reads the docker CLI's TLS flags (the DOCKER_* variables are
// applied later, by engine.HostsFromFlags).
func flagTLS(c *cli.Context) engine.TLSOptions {
	tls := engine.TLSOptions{
		Verify:  c.Bool("tlsverify"),
		Enabled: c.Bool("tls"),
		CACert:  c.String("tlscacert"),
		Cert:    c.String("tlscert"),
		Key:     c.String("tlskey"),
	}
	if tls.CACert != "" || tls.Cert != "" || tls.Key != "" {
		// As the docker CLI: naming TLS material means TLS.
		tls.Enabled = true
	}
	return tls
}

// setupLog applies --log-format and --log-level.
func setupLog(c *cli.Context, e *env) error {
	switch c.String("log-format") {
	case "text":
		e.log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	case "json":
		e.log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return usagef("bad --log-format %q: use text or json", c.String("log-format"))
	}
	lvl, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return usagef("bad --log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	e.log.SetLevel(lvl)
	return nil
}

// fleetConfig sets up logging and reads the connection and executor flags
// into the workflows' configuration.
func fleetConfig(c *cli.Context, e *env) (fleet.Config, error) {
	if err := setupLog(c, e); err != nil {
		return fleet.Config{}, err
	}
	specs, err := hostSpecs(c, e)
	if err != nil {
		return fleet.Config{}, err
	}
	opts, err := execOptions(c, e, nil, eventPrinter(c, e))
	if err != nil {
		return fleet.Config{}, err
	}
	return fleet.Config{Specs: specs, Probe: c.String("probe"), Exec: opts, Force: c.Bool("force"), Log: e.log, Trace: e.trace}, nil
}

func oneOf(flag, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return usagef("bad --%s %q: use %s", flag, v, strings.Join(allowed, " or "))
}
