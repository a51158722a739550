package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

// addOptions are the inputs of `node add` and `framework add`; the add
// rules (the role's environment, SLAVE and REBUILD, DOMAIN, the default
// volume) are orchestrator.AddRequest's.
type addOptions struct {
	fleet fleet.Config
	req   orchestrator.AddRequest
	out   io.Writer
}

// addFlags are the flags node add and framework add share.
func addFlags(defName, defImage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "name", Value: defName, Usage: "container `NAME`"},
		&cli.StringFlag{Name: "image", Value: defImage, Usage: "image `REF`"},
		&cli.StringFlag{Name: "network", Usage: "`host` or the NAME of a network (default: the default bridge)"},
		&cli.StringFlag{Name: "ip", Usage: "static IPv4 on --network (Tars records the IP: keep it stable)"},
		&cli.StringFlag{Name: "volume", Usage: "named volume or absolute host folder for /data/tars (default: a volume named after the container)"},
		&cli.StringFlag{Name: "restart", Value: "always", Usage: "restart policy (replaces the docs' crontab monitor)"},
		&cli.StringFlag{Name: "domain", Usage: "DOMAIN: the IP or name the container registers with (default: its own eth0 address)"},
	}
}

// addCommand is `node add` or `framework add`; own adds the role's flags
// to the request.
func addCommand(e *env, role images.Role, usage string, flags []cli.Flag, own func(c *cli.Context, req *orchestrator.AddRequest) error) *cli.Command {
	return &cli.Command{
		Name:  "add",
		Usage: usage,
		Flags: append(append(connFlags(), execFlags()...), flags...),
		Action: func(c *cli.Context) error {
			if len(c.StringSlice("host")) > 1 {
				return usagef("add takes one --host: the engine to add the %s to", role)
			}
			req := orchestrator.AddRequest{
				Role: role, Name: c.String("name"), Image: c.String("image"), Domain: c.String("domain"),
				Network: c.String("network"), IP: c.String("ip"), Volume: c.String("volume"), Restart: c.String("restart"),
			}
			if err := own(c, &req); err != nil {
				return err
			}
			req, err := req.Prepare()
			if err != nil {
				// A missing input of the role is a command-line mistake.
				return usageError{err}
			}
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			return runAdd(c.Context, addOptions{fleet: cfg, req: req, out: e.stdout})
		},
	}
}

func runAdd(ctx context.Context, o addOptions) error {
	host, id, err := fleet.Add(ctx, o.fleet, o.req)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "%s %s added on %s (%.12s), healthy\n", o.req.Role, o.req.Name, host, id)
	return nil
}

func nodeCommand(e *env) *cli.Command {
	flags := append(addFlags("tars-node", "tarscloud/tars-node:latest"),
		&cli.StringFlag{Name: "web-host", Usage: "the framework's web, `URL` http://FRAMEWORK:3000 (WEB_HOST; required)"},
		&cli.StringSliceFlag{Name: "registry", Usage: "framework registry `ADDR` (IP or IP:PORT; repeatable) for TARS_REGISTRY_ADDRESS"},
	)
	return &cli.Command{
		Name:  "node",
		Usage: "manage tarsnode hosts",
		Subcommands: []*cli.Command{addCommand(e, images.RoleNode,
			"put a tarsnode container on an engine that runs none (TarsDocs expansion, in Docker terms)", flags,
			func(c *cli.Context, req *orchestrator.AddRequest) error {
				req.WebHost, req.Registries = c.String("web-host"), c.StringSlice("registry")
				return nil
			})},
	}
}

func frameworkFlags() []cli.Flag {
	return append(addFlags("tars-framework", "tarscloud/framework:latest"),
		&cli.StringFlag{Name: "mysql-host", Usage: "the framework database's `HOST` (the same as the master's; required)"},
		&cli.IntFlag{Name: "mysql-port", Value: 3306, Usage: "database port"},
		&cli.StringFlag{Name: "mysql-user", Value: "root", Usage: "database user"},
		&cli.StringFlag{Name: "mysql-password-file", Usage: "read the database password from `FILE` (keeps it out of ps and shell history)"},
		&cli.StringFlag{Name: "mysql-password", EnvVars: []string{"MYSQL_ROOT_PASSWORD"}, Usage: "database password (prefer --mysql-password-file)"},
		&cli.StringFlag{Name: "inet", Usage: "INET: the interface whose IP the framework records (default eth0)"},
	)
}

func frameworkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "framework",
		Usage: "manage framework hosts",
		Subcommands: []*cli.Command{addCommand(e, images.RoleFramework,
			"add a framework host (SLAVE=true, REBUILD=false) against the existing database", frameworkFlags(),
			func(c *cli.Context, req *orchestrator.AddRequest) error {
				pw := c.String("mysql-password")
				if f := c.String("mysql-password-file"); f != "" && c.String("mysql-host") != "" {
					b, err := readSecret(f)
					if err != nil {
						return err
					}
					pw = b
				}
				req.MySQL = orchestrator.MySQL{Host: c.String("mysql-host"), Port: c.Int("mysql-port"), User: c.String("mysql-user"), Password: pw}
				req.Inet = c.String("inet")
				return nil
			})},
	}
}
