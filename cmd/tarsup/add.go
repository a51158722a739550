package main

import (
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

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

func addCommand(e *env, role images.Role, usage string, own []cli.Flag, build func(c *cli.Context) (map[string]string, error)) *cli.Command {
	flags := append(connFlags(), execFlags()...)
	flags = append(flags, own...)
	return &cli.Command{
		Name:  "add",
		Usage: usage,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if len(c.StringSlice("host")) > 1 {
				return usagef("add takes one --host: the engine to add the %s to", role)
			}
			envVars, err := build(c)
			if err != nil {
				return err
			}
			if d := c.String("domain"); d != "" {
				envVars["DOMAIN"] = d
			} else if ip := c.String("ip"); ip != "" {
				envVars["DOMAIN"] = ip
			}
			req := orchestrator.AddRequest{
				Role: role, Name: c.String("name"), Image: c.String("image"), Env: envVars,
				Network: c.String("network"), IP: c.String("ip"), Volume: c.String("volume"), Restart: c.String("restart"),
			}
			if req.Volume == "" {
				req.Volume = req.Name + "-data"
			}
			if err := req.Validate(); err != nil {
				return err
			}
			s, closeSession, err := openSession(c, e, true)
			if err != nil {
				return err
			}
			defer closeSession()
			id, err := orchestrator.Add(c.Context, s.hosts[0], s.x, nil, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %s added on %s (%.12s), healthy\n", role, req.Name, s.hosts[0].Name(), id)
			return nil
		},
	}
}

func nodeCommand(e *env) *cli.Command {
	own := append(addFlags("tars-node", "tarscloud/tars-node:latest"),
		&cli.StringFlag{Name: "web-host", Usage: "the framework's web, `URL` http://FRAMEWORK:3000 (WEB_HOST; required)"},
		&cli.StringSliceFlag{Name: "registry", Usage: "framework registry `ADDR` (IP or IP:PORT; repeatable) for TARS_REGISTRY_ADDRESS"},
	)
	return &cli.Command{
		Name:  "node",
		Usage: "manage tarsnode hosts",
		Subcommands: []*cli.Command{addCommand(e, images.RoleNode,
			"put a tarsnode container on an engine that runs none (TarsDocs expansion, in Docker terms)", own,
			func(c *cli.Context) (map[string]string, error) {
				web := c.String("web-host")
				if web == "" || !(strings.HasPrefix(web, "http://") || strings.HasPrefix(web, "https://")) {
					return nil, usagef("--web-host http://FRAMEWORK:3000 is required: the node fetches its tarsnode from the framework's web")
				}
				vars := map[string]string{"WEB_HOST": strings.TrimRight(web, "/")}
				if regs := c.StringSlice("registry"); len(regs) > 0 {
					vars["TARS_REGISTRY_ADDRESS"] = orchestrator.RegistryAddress(regs)
				}
				return vars, nil
			})},
	}
}

func frameworkCommand(e *env) *cli.Command {
	own := append(addFlags("tars-framework", "tarscloud/framework:latest"),
		&cli.StringFlag{Name: "mysql-host", Usage: "the framework database's `HOST` (the same as the master's; required)"},
		&cli.IntFlag{Name: "mysql-port", Value: 3306, Usage: "database port"},
		&cli.StringFlag{Name: "mysql-user", Value: "root", Usage: "database user"},
		&cli.StringFlag{Name: "mysql-password-file", Usage: "read the database password from `FILE` (keeps it out of ps and shell history)"},
		&cli.StringFlag{Name: "mysql-password", EnvVars: []string{"MYSQL_ROOT_PASSWORD"}, Usage: "database password (prefer --mysql-password-file)"},
		&cli.StringFlag{Name: "inet", Usage: "INET: the interface whose IP the framework records (default eth0)"},
	)
	return &cli.Command{
		Name:  "framework",
		Usage: "manage framework hosts",
		Subcommands: []*cli.Command{addCommand(e, images.RoleFramework,
			"add a framework host (SLAVE=true, REBUILD=false) against the existing database", own,
			func(c *cli.Context) (map[string]string, error) {
				if c.String("mysql-host") == "" {
					return nil, usagef("--mysql-host is required: a framework host shares the master's database")
				}
				pw := c.String("mysql-password")
				if f := c.String("mysql-password-file"); f != "" {
					b, err := readSecret(f)
					if err != nil {
						return nil, err
					}
					pw = b
				}
				vars := map[string]string{
					"MYSQL_HOST": c.String("mysql-host"), "MYSQL_PORT": fmt.Sprint(c.Int("mysql-port")),
					"MYSQL_USER": c.String("mysql-user"), "MYSQL_ROOT_PASSWORD": pw,
					// Why both: a second framework host joins the existing
					// database; REBUILD=true would drop it for everyone.
					"SLAVE": "true", "REBUILD": "false",
				}
				if i := c.String("inet"); i != "" {
					vars["INET"] = i
				}
				return vars, nil
			})},
	}
}
