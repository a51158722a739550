package testbed

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bed holds what one `go test` run of the e2e tests shares.
type Bed struct {
	// RunID is the value of RunLabel on everything this run creates.
	RunID string
	// WorkDir holds the binaries, the extra engines' data and certificates.
	WorkDir string
	// FakeBin is the static tarsfake binary the images are built around.
	FakeBin string
	// Registry serves Images on 127.0.0.1.
	Registry *Registry
	// Images are the standard images, pushed to Registry.
	Images *Images
	// Local is the machine's engine ($DOCKER_HOST or the local socket).
	Local *Engine

	tarsupBin string
	tarsupErr error

	stopPrewarm func() // ends the prewarm (see prewarm); nil when none runs

	mu    sync.Mutex
	extra map[int]*Engine
	turns map[int]*sync.Mutex // per extra engine: whose test runs on it (Parallel)
	// running holds a token per Parallel test under way.
	running chan struct{}
}

// ParallelTests is how many tests that called Parallel run at once.
const ParallelTests = 3

// Parallel lets test t run beside other tests (t.Parallel: once every
// test that did not call it has ended) while it has extra engine index to
// itself: tests of one engine take turns, and at most ParallelTests run at
// once. Why: many attack tests each hold an engine of their own and mostly
// wait (health gates, stop timeouts, signals); run one after the other
// they were a third of `make test`. Only a test that uses no engine but
// index (not the local one), and does not read the registry's request
// log, may call it, first thing. The turn ends after t's cleanups.
func (b *Bed) Parallel(t *testing.T, index int) {
	t.Helper()
	t.Parallel()
	b.mu.Lock()
	m, ok := b.turns[index]
	if !ok {
		m = &sync.Mutex{}
		b.turns[index] = m
	}
	b.mu.Unlock()
	m.Lock()
	b.running <- struct{}{}
	t.Cleanup(func() {
		<-b.running
		m.Unlock()
	})
}

// Setup checks that the local engine answers, builds the fake and tarsup into
// workDir, starts the registry and pushes the standard images. A tarsup that
// does not build is not an error here: Tarsup reports it to each test that
// needs the binary. On error, Setup releases what it started.
func Setup(ctx context.Context, workDir string) (_ *Bed, err error) {
	b := &Bed{WorkDir: workDir, extra: map[int]*Engine{}, turns: map[int]*sync.Mutex{}, running: make(chan struct{}, ParallelTests)}
	if b.RunID, err = newRunID(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			err = errors.Join(err, b.Close(cctx))
		}
	}()

	if b.Local, err = Local(ctx); err != nil {
		return b, err
	}
	// Why a context of its own: ctx is the setup's, and the builds go on
	// while the tests run.
	b.stopPrewarm = b.prewarm(context.WithoutCancel(ctx), log.Printf)
	if err = RemoveDeadRuns(ctx, b.Local); err != nil {
		return b, err
	}
	if err = CleanFreeSlots(ctx); err != nil {
		return b, err
	}
	if err = claimWorkDir(workDir); err != nil {
		return b, err
	}
	if b.FakeBin, err = BuildFake(ctx, workDir); err != nil {
		return b, err
	}
	b.tarsupBin, b.tarsupErr = BuildTarsup(ctx, workDir)
	if b.Registry, err = StartRegistry(ctx); err != nil {
		return b, err
	}
	if b.Images, err = PushStandardImages(ctx, b.Registry, b.FakeBin); err != nil {
		return b, err
	}
	return b, nil
}

// Tarsup returns the path of the tarsup binary, or fails the test with the
// reason it did not build.
func (b *Bed) Tarsup(t testing.TB) string {
	t.Helper()
	if b.tarsupErr != nil {
		t.Fatalf("tarsup binary: %v", b.tarsupErr)
	}
	return b.tarsupBin
}

// Engine returns the extra engine with the given index (1..15), starting it
// on first use; later calls, from any test, share it. Close stops it.
func (b *Bed) Engine(ctx context.Context, index int) (*Engine, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.extra[index]; ok {
		return e, nil
	}
	e, err := StartEngine(ctx, b.WorkDir, index)
	if err != nil {
		return nil, err
	}
	b.extra[index] = e
	return e, nil
}

// On returns a Deployer for test t on engine e, labelled with this run.
func (b *Bed) On(ctx context.Context, t testing.TB, e *Engine) *Deployer {
	t.Helper()
	return NewDeployer(ctx, t, b.RunID, e, b.Images)
}

// Engines returns the local engine and the extra engines started so far.
func (b *Bed) Engines() []*Engine {
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := make([]int, 0, len(b.extra))
	for i := range b.extra {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := []*Engine{}
	if b.Local != nil {
		out = append(out, b.Local)
	}
	for _, i := range idx {
		out = append(out, b.extra[i])
	}
	return out
}

// prewarm builds, in the background, what some tests need and a fresh
// machine lacks: the MariaDB image (imported on the local engine) and
// Compose v2, both cached for later runs. Why: each takes minutes the
// first time; built beside the first tests (Compose v2 at the lowest CPU
// priority) they are ready when their tests come, instead of those tests
// waiting for them. A test that needs one before it is ready waits for
// the build under way (both take a lock). The returned function stops
// the prewarm and waits for it; a failure is only logged (the test that
// needs the thing builds it again and fails with the reason). Setup starts
// it once the local engine answers; Close stops it.
func (b *Bed) prewarm(ctx context.Context, logf func(format string, args ...any)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := b.MariaDB(ctx, b.Local); err != nil && ctx.Err() == nil {
			logf("prewarm: MariaDB image: %v", err)
		}
		if _, err := ComposeV2(ctx, ComposeV2Version, logf); err != nil && ctx.Err() == nil {
			logf("prewarm: Compose %s: %v", ComposeV2Version, err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// Close removes everything this run labelled on every engine, stops the extra
// engines and the registry. The work dir is the caller's to remove.
func (b *Bed) Close(ctx context.Context) error {
	var errs []error
	if b.stopPrewarm != nil {
		b.stopPrewarm()
		b.stopPrewarm = nil
	}
	if err := Cleanup(ctx, b.RunID, b.Engines()...); err != nil {
		errs = append(errs, err)
	}
	if b.Registry != nil && b.Local != nil {
		if err := removeImagesFrom(ctx, b.Local, b.Registry.Addr); err != nil {
			errs = append(errs, err)
		}
	}
	b.mu.Lock()
	extra := b.extra
	b.extra = map[int]*Engine{}
	b.mu.Unlock()
	for _, e := range extra {
		if err := e.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if b.Local != nil {
		b.Local.Client.Close()
	}
	if b.Registry != nil {
		if err := b.Registry.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ownerFile in a work dir holds the ID of the process that uses it.
const ownerFile = "owner.pid"

// claimWorkDir marks workDir as this process's and removes its siblings of
// the same name pattern (tarsup-e2e-*) whose process is gone: a run killed
// before it could remove its own (binaries, engine data, certificates).
func claimWorkDir(workDir string) error {
	if err := os.WriteFile(filepath.Join(workDir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("claim work dir: %w", err)
	}
	base := filepath.Base(workDir)
	prefix, _, ok := strings.Cut(base, "-e2e-")
	if !ok {
		return nil
	}
	siblings, err := filepath.Glob(filepath.Join(filepath.Dir(workDir), prefix+"-e2e-*"))
	if err != nil {
		return nil
	}
	for _, dir := range siblings {
		if dir == workDir {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		if err := unmountUnder(dir); err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove the work dir of a dead run: %w", err)
		}
	}
	return nil
}
