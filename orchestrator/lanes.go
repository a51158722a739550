package orchestrator

import (
	"context"
	"sync"
	"time"
)

// eventGate is the event a recreate reports once its new container has
// started and its gate begins (swap.go, replace): there its engine's lane
// is free for the next recreate.
const eventGate = "health gate"

// laneHold bounds how long a recreate holds its engine's lane. Why: a stop
// that waits out its timeout (a container that ignores SIGTERM) or a long
// pre hook holds the next recreate on that engine back by at most this.
const laneHold = time.Second

// lanes let one recreate at a time per engine be in its first part: from
// its start (pre hooks, the create, the renames, the stop) until its new
// container started (eventGate), its end, or laneHold. Its gate, which
// mostly waits, overlaps the next ones'. Why (the fleet bench, README:
// Performance figures): --parallel 8 started eight recreates at the same
// instant, whose stops and starts, each slowed by the others, took 1.4 s
// instead of 0.4 s; the next wave started together again. In a lane each
// stop and start is as quick as alone, so a node is down for less time,
// and the recreates spread out instead of running in waves.
type lanes struct {
	hold    time.Duration // laneHold
	mu      sync.Mutex
	held    map[string]laneHolder // by host
	changed chan struct{}         // closed when a lane is left
}

func newLanes() *lanes {
	return &lanes{hold: laneHold, held: map[string]laneHolder{}, changed: make(chan struct{})}
}

// laneHolder is the recreate in a lane and since when.
type laneHolder struct {
	container string
	since     time.Time
}

// enter waits until the lane of host is free (or its holder held it for
// l.hold, or ctx is done) and takes it for container.
func (l *lanes) enter(ctx context.Context, host, container string) {
	for {
		l.mu.Lock()
		h, held := l.held[host]
		left := time.Until(h.since.Add(l.hold))
		if !held || left <= 0 || ctx.Err() != nil {
			l.held[host] = laneHolder{container: container, since: time.Now()}
			l.mu.Unlock()
			return
		}
		changed := l.changed
		l.mu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// leave frees the lane of host if container holds it. A nil *lanes (an
// executor that is not running a plan) holds none.
func (l *lanes) leave(host, container string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[host]; ok && h.container == container {
		delete(l.held, host)
		close(l.changed)
		l.changed = make(chan struct{})
	}
}
