package health

import (
	"context"
	"strings"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Watch is a health gate of one container prepared before the container
// starts (Gate.Prepare) and waited on once it runs (Wait).
type Watch struct {
	g    Gate
	h    *engine.Host
	id   string
	role images.Role
	sess ProbeSession
}

// Prepare readies the gate of container id, created and not yet started:
// the probe's session (sidecar image loaded, sidecar created), whose
// sidecar announces the container's addresses when announce says so (the
// plan's Step.Announce). A session that cannot be prepared is no error:
// the gate then probes as Probe does, and that probe reports what is wrong.
func (g Gate) Prepare(ctx context.Context, h *engine.Host, id string, role images.Role, announce bool) *Watch {
	w := &Watch{g: g, h: h, id: id, role: role}
	sp, ok := g.Prober.(SessionProber)
	if !ok {
		return w
	}
	c, err := g.look(ctx, h, id, role)
	if err != nil {
		return w
	}
	if s, err := sp.Session(ctx, h, c, announce); err == nil {
		w.sess = s
	}
	return w
}

// Wait starts the session once the container runs and gates it as
// Gate.Wait does.
func (w *Watch) Wait(ctx context.Context) error {
	w.start(ctx)
	return w.g.wait(ctx, w.h, w.id, w.role, w.sess)
}

// Restore is Wait for a container a rollback put back, as Gate.Restore
// gates it: RestoreRunning asks only that it runs (its session's sidecar,
// if any, still announces its addresses).
func (w *Watch) Restore(ctx context.Context, restore string) error {
	if restore != plan.RestoreRunning {
		return w.Wait(ctx)
	}
	w.start(ctx)
	return w.g.WaitRunning(ctx, w.h, w.id, w.role)
}

// start starts the session; one that does not start is dropped (the gate
// then probes as Probe does).
func (w *Watch) start(ctx context.Context) {
	if w.sess != nil {
		if err := w.sess.Start(ctx); err != nil {
			w.sess.Close()
			w.sess = nil
		}
	}
}

// SidecarSays is what the gate's sidecar wrote on stderr so far (its
// announcements, or why one failed); "" without a sidecar.
func (w *Watch) SidecarSays() string {
	if w == nil {
		return ""
	}
	if s, ok := w.sess.(*sidecarSession); ok {
		return strings.TrimSpace(s.stderr.String())
	}
	return ""
}

// Close releases the session; a nil Watch, or one closed before, is fine.
func (w *Watch) Close() {
	if w != nil && w.sess != nil {
		w.sess.Close()
		w.sess = nil
	}
}
