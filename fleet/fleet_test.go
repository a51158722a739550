package fleet

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
)

// noEngine is a configuration whose engine does not answer: a workflow that
// got past its checks would fail to connect.
func noEngine(t *testing.T) Config {
	return Config{Specs: []engine.HostSpec{{URL: "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")}}, Probe: health.ProbeAuto}
}

// TestAddChecksBeforeConnecting: a request the add rules refuse changes
// nothing and reaches no engine: REBUILD=true is a refusal (exit 3).
func TestAddChecksBeforeConnecting(t *testing.T) {
	req := orchestrator.AddRequest{Role: images.RoleNode, Name: "n", Image: "tarscloud/tars-node:latest", Restart: "always", Env: map[string]string{"REBUILD": "true"}}
	if _, _, err := Add(t.Context(), noEngine(t), req); !errors.Is(err, fault.Refused) {
		t.Errorf("Add with REBUILD=true: %v, want ErrRefused before any connection", err)
	}
	req.Env = nil
	req.Restart = "sometimes"
	if _, _, err := Add(t.Context(), noEngine(t), req); !errors.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "--restart") {
		t.Errorf("Add with a bad restart policy: %v, want ErrBadInput naming --restart", err)
	}
}

// TestProbe: every failing address is reported, a listening one passes.
func TestProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Probe(t.Context(), []string{ln.Addr().String()}, nil); err != nil {
		t.Errorf("probe of a listening port: %v", err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	err = Probe(t.Context(), []string{addr, ln.Addr().String()}, []string{addr + "/get_tarsnode"})
	if err == nil || strings.Count(err.Error(), addr) < 2 {
		t.Errorf("probe of a closed port over tcp and http: %v, want both failures", err)
	}
}

// TestPlanRecoverInterrupted: a signal (ctx cancelled) during `recover
// --dry-run` is an interruption (exit 1) that says nothing was changed, not
// an engine that does not answer (exit 2); without a signal it is that.
func TestPlanRecoverInterrupted(t *testing.T) {
	cfg := noEngine(t)
	if _, err := PlanRecover(t.Context(), cfg); fault.ExitCode(err) != fault.ExitBadInput {
		t.Errorf("no engine: %v (exit %d), want exit 2", err, fault.ExitCode(err))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := PlanRecover(ctx, cfg)
	if !errors.Is(err, fault.Interrupted) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("cancelled: %v (exit %d), want an interruption (exit 1) saying nothing was changed", err, fault.ExitCode(err))
	}
}
