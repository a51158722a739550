// Package wait holds the context-aware sleeps the polling loops share
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

// SleepOrWake waits d, or until something arrives on wake (then it returns
// early, woken), or until ctx is done (then it returns ctx's error). A nil
// wake never arrives.
func SleepOrWake(ctx context.Context, d time.Duration, wake <-chan struct{}) (woken bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	case <-wake:
		return true, nil
	}
}
