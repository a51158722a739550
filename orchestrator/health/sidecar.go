package health

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// probeSidecar runs `tarsup probe` in a container that joins the target's
// network namespace, so 127.0.0.1 there is the target: it works for bridge
// networks without published ports, host networking and remote engines, and
// needs nothing inside the Tars image.
func (p *Prober) probeSidecar(ctx context.Context, h *engine.Host, c plan.Container, checks []Check) error {
	ref, err := p.ensureImage(ctx, h)
	if err != nil {
		return &ProbeError{Container: c.Name, Host: h.Name(), Err: fmt.Errorf("--probe sidecar: %w", err), Fix: sidecarFix(err)}
	}
	unusable := func(err error) error {
		return &ProbeError{Container: c.Name, Host: h.Name(), Err: fmt.Errorf("--probe sidecar: %w", err),
			Fix: "check that engine runs Linux containers of this machine's architecture, or use --probe direct where this machine reaches the containers"}
	}
	args := []string{"probe"}
	for _, k := range checks {
		if k.Path != "" {
			args = append(args, "--http", fmt.Sprintf("127.0.0.1:%d%s", k.Port, k.Path))
		} else {
			args = append(args, "--tcp", fmt.Sprintf("127.0.0.1:%d", k.Port))
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probe %s on %s: %w", c.Name, h.Name(), err)
	}
	// Why a context that a signal does not cancel: the engine may create
	// the container after the client gave up on the call, and then nothing
	// would know its ID to remove it. The owner labels let the next tarsup
	// that takes the engine lock remove a sidecar of a killed one
	// (sweepProbes).
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	created, err := p.createSidecar(cctx, h,
		&container.Config{Image: ref, Cmd: args, Labels: map[string]string{
			plan.LabelProbe: "1", plan.LabelTxnOwner: p.owner().String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}},
		&container.HostConfig{NetworkMode: container.NetworkMode("container:" + c.ID)})
	ccancel()
	if err != nil {
		return unusable(fmt.Errorf("create sidecar: %w", err))
	}
	// Why a fresh context: the sidecar must go even when ctx was cancelled.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = h.Engine.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true})
	}()
	wctx, cancel := context.WithTimeout(ctx, checkTimeout*time.Duration(len(checks))+10*time.Second)
	defer cancel()
	waitC, errC := h.Engine.ContainerWait(wctx, created.ID, container.WaitConditionNextExit)
	if err := h.Engine.ContainerStart(wctx, created.ID, container.StartOptions{}); err != nil {
		return unusable(fmt.Errorf("start sidecar: %w", err))
	}
	select {
	case w := <-waitC:
		switch w.StatusCode {
		case 0:
			return nil
		case 1:
			// `tarsup probe` exits 1 when a check failed: the container's answer.
			return fmt.Errorf("%s on %s: %s", c.Name, h.Name(), lastLines(wctx, h, created.ID, 3))
		}
		return unusable(fmt.Errorf("the sidecar exited with code %d: %s", w.StatusCode, lastLines(wctx, h, created.ID, 3)))
	case err := <-errC:
		if ctx.Err() != nil {
			return fmt.Errorf("probe %s on %s: wait for sidecar: %w", c.Name, h.Name(), err)
		}
		return unusable(fmt.Errorf("wait for sidecar: %w", err))
	}
}

// createSidecar creates a container of the probe image. Where the engine
// says there is no such image it loads the image again and creates once
// more. Why: the image is loaded once per engine and run, and nothing uses
// it between two sidecars, so an image prune (a cron job's `docker image
// prune -a`, between the pre-flight's sidecar and the gate's, or between
// two upgrades of a `watch`) removes it; every later probe would fail,
// and a healthy new container be rolled back, then its rollback fail too.
func (p *Prober) createSidecar(ctx context.Context, h *engine.Host, cfg *container.Config, hc *container.HostConfig) (container.CreateResponse, error) {
	created, err := h.Engine.ContainerCreate(ctx, cfg, hc, &network.NetworkingConfig{}, nil, "")
	if err == nil || !errdefs.IsNotFound(err) {
		return created, err
	}
	p.forget(h)
	ref, lerr := p.ensureImage(ctx, h)
	if lerr != nil {
		return created, errors.Join(err, lerr)
	}
	again := *cfg
	again.Image = ref
	return h.Engine.ContainerCreate(ctx, &again, hc, &network.NetworkingConfig{}, nil, "")
}

// forget drops what ensureImage remembers of h: the next one inspects the
// engine (and loads the image where it is gone).
func (p *Prober) forget(h *engine.Host) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.loaded, h)
}

// sidecarFix says how to make the sidecar image work after ensureImage failed.
func sidecarFix(err error) string {
	if errors.Is(err, errNotStatic) {
		return "build tarsup static (make build, or CGO_ENABLED=0 go build ./cmd/tarsup), or use --probe direct where this machine reaches the containers"
	}
	return "check the engine accepts `docker load` of a scratch image, or use --probe direct where this machine reaches the containers"
}

// errNotStatic marks a tarsup binary that cannot run FROM scratch.
var errNotStatic = errors.New("not a static Linux executable")

// ProbeImageRef names the probe image built from a binary with that digest.
func ProbeImageRef(binDigest string) string { return "tarsup-probe:" + binDigest[:16] }

// ensureImage loads the probe image (this very binary, FROM scratch) into the
// engine once, by `docker load`: no registry is needed.
func (p *Prober) ensureImage(ctx context.Context, h *engine.Host) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loaded == nil {
		p.loaded = map[*engine.Host]string{}
	}
	if ref, ok := p.loaded[h]; ok {
		return ref, nil
	}
	bin := p.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("probe image: find this executable: %w", err)
		}
		bin = exe
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("probe image: read %s: %w", bin, err)
	}
	if err := requireStatic(bin); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	ref := ProbeImageRef(hex.EncodeToString(sum[:]))
	if _, err := h.Engine.ImageInspect(ctx, ref); err == nil {
		p.loaded[h] = ref
		return ref, nil
	}
	archive, err := engine.ImageArchive(ref, "tarsup", data, []string{"/tarsup"}, plan.LabelProbe)
	if err != nil {
		return "", err
	}
	resp, err := h.Engine.ImageLoad(ctx, bytes.NewReader(archive))
	if err != nil {
		return "", fmt.Errorf("load probe image into %s: %w", h.Name(), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	p.loaded[h] = ref
	return ref, nil
}

// requireStatic refuses a dynamically linked binary: FROM scratch has no libc.
func requireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("probe image: %s is not a Linux ELF file (%v): %w", path, err, errNotStatic)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("probe image: %s is dynamically linked (%w): an image FROM scratch has no libc to run it", path, errNotStatic)
		}
	}
	return nil
}
