package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// checkTimeout bounds one health check, well under a HEALTHCHECK's timeout.
const checkTimeout = 2 * time.Second

// runCheck is the image HEALTHCHECK: "check tcp HOST:PORT" or "check http URL".
// A nil error (exit 0) means healthy.
func runCheck(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	switch args[0] {
	case "tcp":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", args[1])
		if err != nil {
			return fmt.Errorf("check tcp %s: %w", args[1], err)
		}
		return c.Close()
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[1], nil)
		if err != nil {
			return fmt.Errorf("check http %s: %w", args[1], err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("check http %s: %w", args[1], err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("check http %s: %s", args[1], resp.Status)
		}
		return nil
	default:
		return errUsage
	}
}
