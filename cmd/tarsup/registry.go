package main

import (
	"fmt"

	"github.com/tarsup/tarsup/images"
	"github.com/urfave/cli/v2"
)

// registryFlags are the flags of every command that asks registries
// (status, upgrade, compose upgrade, refresh, watch): their manners.
func registryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "registry-retries", Value: images.DefaultRetries, Usage: fmt.Sprintf("how many times a registry look-up answered 429 or 5xx (or cut by a reset connection) is sent again: "+
			"after what its Retry-After says (a registry asking for over %s is not asked again), else 1s, 2s, 4s...; 0 to %d", images.MaxRetryAfter, images.MaxRetries)},
		&cli.StringSliceFlag{Name: "registry-mirror", Usage: "Docker Hub mirror `URL` (http(s)://HOST[:PORT], repeatable), asked first for the manifest HEADs of Docker Hub images, " +
			"then the engines' own registry-mirrors (docker info), then Docker Hub when every mirror failed"},
	}
}

// registryRule checks the registry flags' values (args.go's table).
func registryRule(name string) flagRule {
	switch name {
	case "registry-retries":
		return intBetween(0, images.MaxRetries)
	case "registry-mirror":
		return func(c *cli.Context, _ cli.Flag, name string) error {
			for _, v := range c.StringSlice(name) {
				if _, err := images.ParseMirror(v); err != nil {
					return usagef("bad --%s %v", name, err)
				}
			}
			return nil
		}
	}
	return nil
}

// registryOf is the run's registry client as the registry flags say (their
// values were checked before the command ran).
func registryOf(c *cli.Context, e *env) *images.Registry {
	var mirrors []string
	seen := map[string]bool{}
	for _, v := range c.StringSlice("registry-mirror") {
		if m, err := images.ParseMirror(v); err == nil && !seen[m] {
			seen[m] = true
			mirrors = append(mirrors, m)
		}
	}
	return &images.Registry{Retries: c.Int("registry-retries"), Mirrors: mirrors, Log: e.log}
}
