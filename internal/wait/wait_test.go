package wait

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context: %v, want context.Canceled", err)
	}
}

func TestSleepOrWake(t *testing.T) {
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	done := make(chan error, 1)
	go func() {
		woken, err := SleepOrWake(t.Context(), time.Hour, wake)
		if !woken {
			err = errors.New("not woken")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("SleepOrWake woken: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SleepOrWake did not return when woken")
	}
	if woken, err := SleepOrWake(t.Context(), time.Millisecond, nil); woken || err != nil {
		t.Errorf("SleepOrWake without a wake: woken %v, %v", woken, err)
	}
}
