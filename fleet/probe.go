package fleet

import (
	"context"
	"errors"
	"strings"

	"github.com/tarsup/tarsup/orchestrator/health"
)

// Probe runs the Tars probes the probe sidecar is asked for, from inside a
// container's network namespace: each tcp HOST:PORT must accept a
// connection, each http HOST:PORT/PATH must answer 200 to a GET. It returns
// every failure, joined.
func Probe(ctx context.Context, tcp, http []string) error {
	var errs []error
	for _, a := range tcp {
		if err := health.CheckAddr(ctx, a, health.Check{}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, u := range http {
		addr, path, _ := strings.Cut(u, "/")
		if err := health.CheckAddr(ctx, addr, health.Check{Path: "/" + path}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
