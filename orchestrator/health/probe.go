package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Tars ports (TARS.md).
const (
	PortRegistry = 17890 // tarsregistry QueryObj, on every framework host
	PortWeb      = 3000  // tarsweb, on the master
	PortNode     = 19385 // tarsnode NodeObj
	PortMySQL    = 3306
)

// Check is one Tars-aware probe: a TCP connect, or an HTTP GET that must answer 200.
type Check struct {
	Port int
	// Path, when set, makes the check an HTTP GET of that path.
	Path string
}

func (k Check) String() string {
	if k.Path != "" {
		return fmt.Sprintf("http :%d%s", k.Port, k.Path)
	}
	return fmt.Sprintf("tcp :%d", k.Port)
}

// ChecksFor returns the probes that tell a container of that role is up.
// Why these: no Tars image has a HEALTHCHECK or a health endpoint; the
// registry's port answers on every framework host, the master's web serves
// /get_tarsnode unauthenticated (the official harness waits for it), and a
// node's tarsnode listens on 19385.
func ChecksFor(c plan.Container) []Check {
	switch c.Role {
	case images.RoleFramework:
		if c.Slave {
			return []Check{{Port: PortRegistry}}
		}
		return []Check{{Port: PortRegistry}, {Port: PortWeb, Path: "/get_tarsnode"}}
	case images.RoleNode:
		return []Check{{Port: PortNode}}
	case images.RoleWeb:
		return []Check{{Port: PortWeb}}
	case images.RoleDB:
		return []Check{{Port: PortMySQL}}
	}
	return nil
}

// checkTimeout bounds one probe attempt.
const checkTimeout = 2 * time.Second

// CheckAddr runs one check against host:port. It is what the probe sidecar
// runs inside the container's network namespace, and what the direct mode
// runs from this machine.
func CheckAddr(ctx context.Context, addr string, k Check) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if k.Path == "" {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp %s: %w", addr, err)
		}
		return conn.Close()
	}
	url := "http://" + addr + k.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// Probe modes.
const (
	// ProbeAuto probes local engines directly and remote ones by sidecar.
	ProbeAuto = "auto"
	// ProbeDirect dials the container's addresses from this machine.
	ProbeDirect = "direct"
	// ProbeSidecar runs the check in a short-lived container that shares the
	// target's network namespace, on the target's own engine.
	ProbeSidecar = "sidecar"
)

// Prober runs Tars probes against containers, on local and remote engines.
type Prober struct {
	// Mode is ProbeAuto, ProbeDirect or ProbeSidecar.
	Mode string
	// Binary is a static tarsup executable to ship as the sidecar image;
	// the running executable when empty.
	Binary  string
	mu      sync.Mutex
	loaded  map[*engine.Host]string // host -> probe image reference
	dialers map[*engine.Host]*dialerSlot
	// dialerRetry: how soon an ended dialer may be replaced (tests; the
	// const dialerRetry when zero).
	dialerRetry time.Duration
	self        *owner.Owner // this process, for the sidecars' labels
}

// owner is this process, read once.
func (p *Prober) owner() owner.Owner {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.self == nil {
		o := owner.ThisProcess()
		p.self = &o
	}
	return *p.self
}

// NewProber returns a prober in the given mode ("" means auto).
func NewProber(mode, binary string) (*Prober, error) {
	switch mode {
	case "":
		mode = ProbeAuto
	case ProbeAuto, ProbeDirect, ProbeSidecar:
	default:
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("bad --probe %q: use auto, direct or sidecar", mode))
	}
	return &Prober{Mode: mode, Binary: binary, loaded: map[*engine.Host]string{}}, nil
}

// ProbeError is a probe that could not be run at all (the sidecar image
// cannot be built or loaded, no address reaches the container from here),
// as opposed to a container that was reached and answered unhealthy. Fix
// says what would make the probe work.
type ProbeError struct {
	Container string
	Host      string
	Err       error
	Fix       string
}

func (e *ProbeError) Error() string {
	msg := fmt.Sprintf("cannot probe %s on %s: %v", e.Container, e.Host, e.Err)
	if e.Fix != "" {
		msg += "; to fix: " + e.Fix
	}
	return msg
}

func (e *ProbeError) Unwrap() error { return e.Err }

// Probe checks that c answers on its Tars ports. A container without
// checks (unknown role) counts as up when it runs. A probe that cannot work
// at all is a *ProbeError; any other error is the container's own answer.
func (p *Prober) Probe(ctx context.Context, h *engine.Host, c plan.Container) error {
	checks := ChecksFor(c)
	if len(checks) == 0 {
		return nil
	}
	if p.UsesSidecar(h) {
		if err, done := p.probeByDialer(ctx, h, c, checks); done {
			return err
		}
		return p.probeSidecar(ctx, h, c, checks)
	}
	for _, k := range checks {
		if err := probeDirect(ctx, h, c, k); err != nil {
			return err
		}
	}
	return nil
}

// UsesSidecar reports whether containers on h are probed by sidecar.
func (p *Prober) UsesSidecar(h *engine.Host) bool {
	return p.Mode == ProbeSidecar || (p.Mode == ProbeAuto && h.Remote)
}

// probeDirect dials the container from this machine: its address on each
// network (a local bridge is routable from the host), 127.0.0.1 under host
// networking, or the published port.
//
// Why the errors are told apart: a refused connection or a bad HTTP answer
// means the container was reached and is not healthy; a timeout or no route
// on every address means this machine cannot reach it at all, and no wait
// would change that (a *ProbeError).
func probeDirect(ctx context.Context, h *engine.Host, c plan.Container, k Check) error {
	addrs := directAddrs(c, k.Port)
	if len(addrs) == 0 {
		return &ProbeError{Container: c.Name, Host: h.Name(),
			Err: fmt.Errorf("--probe direct: no address reaches port %d from here (no IP, no published port)", k.Port),
			Fix: "use --probe sidecar, or publish the port"}
	}
	var errs []error
	reached := false
	for _, a := range addrs {
		err := CheckAddr(ctx, a, k)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		reached = reached || !unreachable(err)
	}
	err := fmt.Errorf("%s %s: %w", c.Name, k, errors.Join(errs...))
	if !reached && ctx.Err() == nil {
		return &ProbeError{Container: c.Name, Host: h.Name(),
			Err: fmt.Errorf("--probe direct: no address of it answers from here (%s): %w", strings.Join(addrs, ", "), err),
			Fix: "use --probe sidecar, or publish the port"}
	}
	return err
}

// Unreachable reports whether a check's error (CheckAddr) says the address
// could not be reached at all rather than that it refused or answered
// badly: what the engine's probe dialer tells apart.
func Unreachable(err error) bool { return unreachable(err) }

// unreachable reports whether a check's error says the address could not
// be reached at all (the dial timed out, or there is no route), rather than
// that it refused, or answered late or badly.
func unreachable(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	var ne net.Error
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EADDRNOTAVAIL) ||
		errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func directAddrs(c plan.Container, port int) []string {
	in := c.Inspect
	var addrs []string
	if in.HostConfig != nil && in.HostConfig.NetworkMode.IsHost() {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	if in.NetworkSettings != nil {
		for _, ep := range in.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress != "" {
				addrs = append(addrs, net.JoinHostPort(ep.IPAddress, strconv.Itoa(port)))
			}
		}
		for p, binds := range in.NetworkSettings.Ports {
			if p.Int() != port || p.Proto() != "tcp" {
				continue
			}
			for _, b := range binds {
				ip := b.HostIP
				if ip == "" || ip == "0.0.0.0" {
					ip = "127.0.0.1"
				} else if ip == "::" {
					ip = "::1"
				}
				addrs = append(addrs, net.JoinHostPort(ip, b.HostPort))
			}
		}
	}
	return addrs
}

// lastLines returns the last n lines a container logged, for error reports.
func lastLines(ctx context.Context, h *engine.Host, id string, n int) string {
	rc, err := h.Engine.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 1<<20)); err != nil {
		// A TTY container's log is not multiplexed; read it raw.
		return strings.TrimSpace(buf.String())
	}
	return strings.TrimSpace(buf.String())
}
