package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// A dialer is one sidecar per engine, on the engine host's network, that
// runs the checks of many probes against the containers' addresses
// (`tarsup probe --serve --dial`, asked over its attached stdin, each
// request tagged so that many run at once). Why: a probe sidecar in each
// target's namespace is a container created, started and removed per
// probe, and on a vfs or fuse-overlayfs engine each create copies the
// probe image; a pre-flight of a fleet then costs seconds of engine time
// per engine. From the engine host a container's address on a local
// bridge is as reachable as from its clients there. Where it is not (a
// macvlan network, a firewall), the dialer says so and the probe goes by
// a sidecar in the target's namespace, as before.
type dialer struct {
	h  *engine.Host
	id string
	hj *types.HijackedResponse

	wmu     sync.Mutex // one request line at a time
	mu      sync.Mutex
	next    int
	waiting map[int]chan string
	dead    error
}

// Dial verdicts (the dialer's answer to one request).
const (
	dialOK          = "ok"
	dialFail        = "fail"        // reached, and the check failed
	dialUnreachable = "unreachable" // the address cannot be reached from the engine host
)

// dialerFor returns h's dialer, starting it on first use; an error means
// there is none (the probes then go by sidecar in the target's namespace).
func (p *Prober) dialerFor(ctx context.Context, h *engine.Host) (*dialer, error) {
	p.mu.Lock()
	if p.dialers == nil {
		p.dialers = map[*engine.Host]*dialerSlot{}
	}
	slot := p.dialers[h]
	if slot == nil || slot.retire() {
		// Why a new one for a dialer that ended (removed by hand, the
		// engine restarted): a long-running watch would otherwise fall
		// back to a sidecar per probe for good. At most one start per
		// dialerRetry, so a dialer that cannot live costs no start storm.
		slot = &dialerSlot{began: time.Now(), retry: p.dialerRetry}
		p.dialers[h] = slot
	}
	p.mu.Unlock()
	slot.once.Do(func() {
		d, err := p.startDialer(ctx, h)
		slot.mu.Lock()
		slot.d, slot.err, slot.done = d, err, true
		slot.mu.Unlock()
	})
	slot.mu.Lock()
	d, err := slot.d, slot.err
	slot.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := d.broken(); err != nil {
		return nil, err
	}
	return d, nil
}

// dialerSlot starts an engine's dialer once.
type dialerSlot struct {
	once  sync.Once
	began time.Time
	retry time.Duration // dialerRetry when zero
	mu    sync.Mutex
	done  bool // the start is over (d or err is set)
	d     *dialer
	err   error
}

// dialerRetry is how long after a dialer's start another may be started in
// its place once it ended or could not start.
const dialerRetry = 10 * time.Second

// retire reports whether the slot's dialer ended (or never started) and a
// new one may be started in its place; the caller holds Prober.mu.
func (s *dialerSlot) retire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	retry := s.retry
	if retry <= 0 {
		retry = dialerRetry
	}
	if !s.done || time.Since(s.began) < retry {
		return false
	}
	if s.d != nil {
		if s.d.broken() == nil {
			return false
		}
		s.d.close()
	}
	return true
}

func (p *Prober) startDialer(ctx context.Context, h *engine.Host) (*dialer, error) {
	ref, err := p.ensureImage(ctx, h)
	if err != nil {
		return nil, err
	}
	// Why a context that a signal does not cancel: see probeSidecar.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	created, err := h.Engine.ContainerCreate(cctx,
		&container.Config{Image: ref, Cmd: []string{"probe", "--serve", "--dial"}, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
			Labels: map[string]string{plan.LabelProbe: "1", plan.LabelTxnOwner: p.owner().String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}},
		&container.HostConfig{NetworkMode: "host", AutoRemove: true}, &network.NetworkingConfig{}, nil, "")
	if err != nil {
		return nil, fmt.Errorf("create the engine's probe dialer: %w", err)
	}
	d := &dialer{h: h, id: created.ID, waiting: map[int]chan string{}}
	hj, pr, err := attachStreams(cctx, h, created.ID, io.Discard)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("attach to the engine's probe dialer: %w", err)
	}
	d.hj = hj
	ready := make(chan string, 1)
	go d.read(pr, ready)
	if err := h.Engine.ContainerStart(cctx, created.ID, container.StartOptions{}); err != nil {
		d.close()
		return nil, fmt.Errorf("start the engine's probe dialer: %w", err)
	}
	select {
	case line := <-ready:
		if line != "ready" {
			d.close()
			return nil, fmt.Errorf("the engine's probe dialer said %q, not ready", line)
		}
	case <-time.After(10 * time.Second):
		d.close()
		return nil, errors.New("the engine's probe dialer did not say ready within 10s")
	}
	return d, nil
}

// read hands each answer to the request it names; the first line is ready.
func (d *dialer) read(r io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			ready <- line
			continue
		}
		n, rest, _ := strings.Cut(line, " ")
		id, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		d.mu.Lock()
		ch := d.waiting[id]
		delete(d.waiting, id)
		d.mu.Unlock()
		if ch != nil {
			ch <- rest
		}
	}
	d.mu.Lock()
	d.dead = errors.New("the engine's probe dialer ended")
	for id, ch := range d.waiting {
		close(ch)
		delete(d.waiting, id)
	}
	d.mu.Unlock()
}

func (d *dialer) broken() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

// ask runs one check against addr from the engine host: its verdict and
// the dialer's message.
func (d *dialer) ask(ctx context.Context, addr string, k Check) (string, string, error) {
	d.mu.Lock()
	if d.dead != nil {
		d.mu.Unlock()
		return "", "", d.dead
	}
	d.next++
	id, ch := d.next, make(chan string, 1)
	d.waiting[id] = ch
	d.mu.Unlock()
	arg := "--tcp " + addr
	if k.Path != "" {
		arg = "--http " + addr + k.Path
	}
	d.wmu.Lock()
	_, err := fmt.Fprintf(d.hj.Conn, "%d %s\n", id, arg)
	d.wmu.Unlock()
	if err != nil {
		return "", "", fmt.Errorf("ask the engine's probe dialer: %w", err)
	}
	t := time.NewTimer(checkTimeout + 5*time.Second)
	defer t.Stop()
	select {
	case ans, ok := <-ch:
		if !ok {
			return "", "", errors.New("the engine's probe dialer ended")
		}
		verdict, msg, _ := strings.Cut(ans, " ")
		return verdict, msg, nil
	case <-t.C:
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
		return "", "", errors.New("the engine's probe dialer did not answer")
	case <-ctx.Done():
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
		return "", "", ctx.Err()
	}
}

// close ends the dialer (its stdin closes with the attachment) and
// removes it.
func (d *dialer) close() {
	if d.hj != nil {
		d.hj.Close()
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	removeSidecar(rctx, d.h, d.id)
}

// probeByDialer runs c's checks from h's engine host. done is false when
// the dialer cannot say (there is none, or no address of c is reachable
// from the engine host): the probe then goes by sidecar in c's namespace.
func (p *Prober) probeByDialer(ctx context.Context, h *engine.Host, c plan.Container, checks []Check) (err error, done bool) {
	d, derr := p.dialerFor(ctx, h)
	if derr != nil {
		return nil, false
	}
	for _, k := range checks {
		addrs := directAddrs(c, k.Port)
		if len(addrs) == 0 {
			return nil, false
		}
		var fails []string
		passed := false
		for _, a := range addrs {
			verdict, msg, err := d.ask(ctx, a, k)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("probe %s on %s: %w", c.Name, h.Name(), ctx.Err()), true
				}
				return nil, false
			}
			if verdict == dialOK {
				passed = true
				break
			}
			if verdict == dialFail {
				fails = append(fails, msg)
			}
		}
		if passed {
			continue
		}
		if len(fails) == 0 {
			return nil, false // unreachable on every address
		}
		return fmt.Errorf("%s on %s: %s %s", c.Name, h.Name(), k, strings.Join(fails, "; ")), true
	}
	return nil, true
}

// Close ends the engines' dialers. A Prober is usable again after it; a
// nil one has none.
func (p *Prober) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	slots := p.dialers
	p.dialers = nil
	p.mu.Unlock()
	for _, s := range slots {
		s.mu.Lock()
		d := s.d
		s.mu.Unlock()
		if d != nil {
			d.close()
		}
	}
}

// attachStreams attaches to a created probe container's stdin and output,
// as the gate's sidecar and the dialer both are asked: the hijacked
// connection (requests go to its Conn) and the container's stdout, its
// stderr copied to stderr.
func attachStreams(ctx context.Context, h *engine.Host, id string, stderr io.Writer) (*types.HijackedResponse, io.Reader, error) {
	hj, err := h.Engine.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, stderr, hj.Reader)
		_ = pw.CloseWithError(err)
	}()
	return &hj, pr, nil
}
