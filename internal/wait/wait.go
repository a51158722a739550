// Package wait holds the one context-aware sleep the polling loops share
// (the gate, the engine lock's wait, the executor's re-check).
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
