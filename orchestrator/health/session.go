package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
	"github.com/tarsup/tarsup/internal/wait"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// ProbeSession is one health gate's probe of one container, made ready
// before the container starts (Gate.Prepare): whatever the probe needs is
// in place then, so that nothing but the stop and the start happens while
// the service is down.
type ProbeSession interface {
	// Start is called once the container runs.
	Start(ctx context.Context) error
	// Probe asks once whether c answers (nil: it does).
	Probe(ctx context.Context, c plan.Container) error
	// Close releases what the session holds. It may be called more than once.
	Close()
}

// SessionProber is a HealthProber that prepares sessions (a *Prober).
// A gate whose prober is not one probes with Probe each time.
type SessionProber interface {
	// Session prepares the probe of c; announce asks that its sidecar
	// announce c's addresses when it starts.
	Session(ctx context.Context, h *engine.Host, c plan.Container, announce bool) (ProbeSession, error)
}

// ownNamespace reports whether c has a network namespace of its own (not
// the host's, none, or another container's): only then is there an
// address of its own to announce.
func ownNamespace(c plan.Container) bool {
	if c.Inspect.ContainerJSONBase == nil || c.Inspect.HostConfig == nil {
		return false
	}
	m := c.Inspect.HostConfig.NetworkMode
	return !m.IsHost() && !m.IsNone() && !m.IsContainer()
}

// Session prepares the probe of c, which is created and not yet started:
// on an engine probed by sidecar, or where the new container's addresses
// are announced (announce: the plan's Step.Announce), one sidecar for the
// whole gate, created now in c's network namespace and started by Start;
// otherwise probes from here.
func (p *Prober) Session(ctx context.Context, h *engine.Host, c plan.Container, announce bool) (ProbeSession, error) {
	checks := ChecksFor(c)
	viaSidecar := len(checks) > 0 && p.UsesSidecar(h)
	ann := announce && ownNamespace(c)
	if !viaSidecar && !ann {
		return directSession{p: p, h: h}, nil
	}
	if !ann {
		// The engine's dialer, started now if it is not yet (before the
		// old container stops); a container it cannot reach gets a
		// sidecar of its own (dialSession.Probe).
		_, _ = p.dialerFor(ctx, h)
		return &dialSession{p: p, h: h, checks: checks}, nil
	}
	return p.netnsSession(ctx, h, c, checks, viaSidecar, true)
}

// netnsSession creates the gate's sidecar in c's network namespace: it
// announces c's addresses when it starts (ann), and runs the checks when
// viaSidecar.
func (p *Prober) netnsSession(ctx context.Context, h *engine.Host, c plan.Container, checks []Check, viaSidecar, ann bool) (*sidecarSession, error) {
	ref, err := p.ensureImage(ctx, h)
	if err != nil {
		if viaSidecar {
			return nil, &ProbeError{Container: c.Name, Host: h.Name(), Err: fmt.Errorf("--probe sidecar: %w", err), Fix: sidecarFix(err)}
		}
		return nil, &ProbeError{Container: c.Name, Host: h.Name(), Err: fmt.Errorf("the gate's sidecar: %w", err), Fix: sidecarFix(err)}
	}
	args := []string{"probe", "--serve"}
	if ann {
		args = append(args, "--announce-addresses")
	}
	if viaSidecar {
		args = append(args, checkArgs(checks)...)
	}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode("container:" + c.ID), AutoRemove: true}
	if ann {
		hc.CapAdd = []string{"NET_RAW"}
	}
	// Why a context that a signal does not cancel: see probeSidecar.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	created, err := p.createSidecar(cctx, h,
		&container.Config{Image: ref, Cmd: args, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
			Labels: map[string]string{plan.LabelProbe: "1", plan.LabelTxnOwner: p.owner().String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}},
		hc)
	if err != nil {
		return nil, &ProbeError{Container: c.Name, Host: h.Name(), Err: fmt.Errorf("create the gate's sidecar: %w", err)}
	}
	s := &sidecarSession{p: p, h: h, name: c.Name, id: created.ID, probes: viaSidecar, checks: len(checks), lines: make(chan string, 4)}
	// Why attach before the start: StdinOnce closes the sidecar's stdin
	// when this attachment ends, so a tarsup that dies (kill -9) ends its
	// sidecars, which AutoRemove then removes.
	hj, pr, err := attachStreams(cctx, h, created.ID, &s.stderr)
	if err != nil {
		s.Close()
		return nil, &ProbeError{Container: c.Name, Host: h.Name(), Err: fmt.Errorf("attach to the gate's sidecar: %w", err)}
	}
	s.hj = hj
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	return s, nil
}

// checkArgs are `tarsup probe`'s arguments for checks, inside the target's
// network namespace.
func checkArgs(checks []Check) []string {
	var args []string
	for _, k := range checks {
		if k.Path != "" {
			args = append(args, "--http", fmt.Sprintf("127.0.0.1:%d%s", k.Port, k.Path))
		} else {
			args = append(args, "--tcp", fmt.Sprintf("127.0.0.1:%d", k.Port))
		}
	}
	return args
}

// dialSession probes through the engine's dialer (probeByDialer); for a
// container the dialer cannot reach it creates, once, a sidecar in the
// container's namespace and asks that for the rest of the gate.
type dialSession struct {
	p      *Prober
	h      *engine.Host
	checks []Check
	mu     sync.Mutex
	netns  *sidecarSession
}

func (d *dialSession) Start(context.Context) error { return nil }

func (d *dialSession) Probe(ctx context.Context, c plan.Container) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.netns == nil {
		if err, done := d.p.probeByDialer(ctx, d.h, c, d.checks); done {
			return err
		}
		s, err := d.p.netnsSession(ctx, d.h, c, d.checks, true, false)
		if err != nil {
			return err
		}
		if err := s.Start(ctx); err != nil {
			s.Close()
			return d.p.probeSidecar(ctx, d.h, c, d.checks)
		}
		d.netns = s
	}
	return d.netns.Probe(ctx, c)
}

func (d *dialSession) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.netns != nil {
		d.netns.Close()
		d.netns = nil
	}
}

// directSession probes as Probe does, each time.
type directSession struct {
	p *Prober
	h *engine.Host
}

func (d directSession) Start(context.Context) error { return nil }
func (d directSession) Probe(ctx context.Context, c plan.Container) error {
	return d.p.Probe(ctx, d.h, c)
}
func (d directSession) Close() {}

// sidecarSession is one sidecar for a whole gate: `tarsup probe --serve`
// in the target's network namespace, asked over its attached stdin.
type sidecarSession struct {
	p      *Prober
	h      *engine.Host
	name   string // the target's, for messages
	id     string
	probes bool // the sidecar runs the checks (else it only announced)
	checks int
	hj     *types.HijackedResponse
	lines  chan string
	stderr lockedBuffer

	mu      sync.Mutex
	broken  error // the sidecar stopped answering: probes fall back to Probe
	started bool
	closed  bool
}

// Start starts the sidecar once the target runs and waits for its "ready"
// (after its announcement, if it makes one).
func (s *sidecarSession) Start(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.h.Engine.ContainerStart(sctx, s.id, container.StartOptions{}); err != nil {
		return s.fail(fmt.Errorf("start the gate's sidecar: %w", err))
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	line, err := s.read(ctx, 10*time.Second)
	if err != nil {
		return s.fail(err)
	}
	if line != "ready" {
		return s.fail(fmt.Errorf("the gate's sidecar said %q, not ready", line))
	}
	return nil
}

// Probe asks the sidecar once; where it only announced, or stopped
// answering, the probe runs as Probe runs it.
func (s *sidecarSession) Probe(ctx context.Context, c plan.Container) error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if !s.probes || broken != nil {
		return s.p.Probe(ctx, s.h, c)
	}
	if _, err := io.WriteString(s.hj.Conn, "probe\n"); err != nil {
		return s.brokenProbe(ctx, c, fmt.Errorf("ask the gate's sidecar: %w", err))
	}
	line, err := s.read(ctx, checkTimeout*time.Duration(s.checks)+5*time.Second)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("probe %s on %s: %w", c.Name, s.h.Name(), err)
		}
		return s.brokenProbe(ctx, c, err)
	}
	switch {
	case line == "ok":
		return nil
	case strings.HasPrefix(line, "fail "):
		return fmt.Errorf("%s on %s: %s", c.Name, s.h.Name(), strings.TrimPrefix(line, "fail "))
	}
	return s.brokenProbe(ctx, c, fmt.Errorf("the gate's sidecar answered %q", line))
}

// brokenProbe marks the session broken and probes as Probe does.
func (s *sidecarSession) brokenProbe(ctx context.Context, c plan.Container, why error) error {
	_ = s.fail(why)
	return s.p.Probe(ctx, s.h, c)
}

func (s *sidecarSession) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		if out := strings.TrimSpace(s.stderr.String()); out != "" {
			err = fmt.Errorf("%w (sidecar: %s)", err, out)
		}
		s.broken = err
	}
	return s.broken
}

// read waits for the sidecar's next line.
func (s *sidecarSession) read(ctx context.Context, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-s.lines:
		if !ok {
			return "", fmt.Errorf("the gate's sidecar for %s ended", s.name)
		}
		return line, nil
	case <-t.C:
		return "", fmt.Errorf("the gate's sidecar for %s did not answer within %s", s.name, timeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close ends the sidecar: its stdin closes with the attachment, and it is
// removed (also when it never started).
func (s *sidecarSession) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	if s.hj != nil {
		s.hj.Close()
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	removeSidecar(rctx, s.h, s.id)
}

// removeSidecar removes probe container id and returns once the engine has
// (or ctx ends). Why it waits: a sidecar made with AutoRemove that just
// exited (its stdin closed) is being removed by the engine already; the
// remove then answers at once that removal is in progress (a conflict),
// and tarsup would end with the container still listed ("Removal In
// Progress"), which `docker ps -a` and the next run's checks would see.
func removeSidecar(ctx context.Context, h *engine.Host, id string) {
	err := h.Engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if !errdefs.IsConflict(err) {
		return
	}
	for {
		if _, err := h.Engine.ContainerInspect(ctx, id); errdefs.IsNotFound(err) {
			return
		}
		if wait.Sleep(ctx, 50*time.Millisecond) != nil {
			return
		}
	}
}

// lockedBuffer is the sidecar's stderr, written by the stream's reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 4096 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
