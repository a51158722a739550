package testbed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// Engine is one Docker Engine the tests use: the machine's own (Local) or an
// extra dockerd started by StartEngine to play another host.
type Engine struct {
	// Host is the URL clients use: the local socket (or $DOCKER_HOST), or
	// tcp://127.0.0.<10+slot>:2376 for an extra engine.
	Host string
	// TLS holds the client certificates for Host; nil for the local engine
	// unless DOCKER_TLS_VERIFY and DOCKER_CERT_PATH name them.
	TLS *TLSFiles
	// IP is the loopback address of an extra engine's TLS listener, which is
	// also its default address for published ports; "" for the local engine.
	IP string
	// Socket is the unix:// URL of the engine's own socket ("" when the
	// local engine is reached over tcp://).
	Socket string
	// Gateway is the host's address on the engine's default bridge: how the
	// engine's containers reach the host, and through it ports published by
	// any engine of the bed.
	Gateway string
	// Client talks to Host with API version negotiation.
	Client *client.Client

	// slot numbers an extra engine's addresses (0 for the local engine).
	slot   int
	daemon *daemon
}

// Local connects to the machine's default engine: $DOCKER_HOST (with
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or the local socket. It fails when
// the engine does not answer.
func Local(ctx context.Context) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("local Docker Engine: %w", err)
	}
	e := &Engine{Host: cli.DaemonHost(), Client: cli}
	if strings.HasPrefix(e.Host, "unix://") {
		e.Socket = e.Host
	}
	if dir := os.Getenv("DOCKER_CERT_PATH"); dir != "" && os.Getenv("DOCKER_TLS_VERIFY") != "" {
		e.TLS = &TLSFiles{Dir: dir, CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	}
	if err := ping(ctx, cli, 10*time.Second); err != nil {
		cli.Close()
		return nil, fmt.Errorf("no Docker Engine answers at %s (start dockerd or set DOCKER_HOST): %w", e.Host, err)
	}
	bridge, err := cli.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err == nil {
		for _, c := range bridge.IPAM.Config {
			if ip := net.ParseIP(c.Gateway); ip != nil && ip.To4() != nil {
				e.Gateway = c.Gateway
			}
		}
	}
	return e, nil
}

// Subnet returns a /24 for the engine's k-th user-defined network (k in
// 1..254) that no other engine of the bed uses: 10.240.k.0/24 on the local
// engine, 10.(240+slot).k.0/24 on an extra one. Tests on different engines
// therefore never collide, and networks in an extra engine's range are
// routable from every other engine (see StartEngine).
func (e *Engine) Subnet(k int) string {
	// Why 254: the whole 10.(240+slot).0.0/16 is the engine's (routed as
	// one), k 0 is its default bridge, and 255 would be the range's last.
	if k < 1 || k > 254 {
		panic(fmt.Sprintf("testbed: Subnet(%d): k must be in 1..254", k))
	}
	return fmt.Sprintf("10.%d.%d.0/24", 240+e.slot, k)
}

// bridgeName is the Linux bridge name for a user-defined network on an extra
// engine, in the range its firewall rule accepts; "" (Docker's choice) on the
// local engine.
func (e *Engine) bridgeName(network string) string {
	if e.daemon == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(network))
	return e.daemon.bridgePrefix() + hex.EncodeToString(sum[:])[:8]
}

// HostIP returns the n-th address of a subnet such as Subnet(k) returns:
// HostIP("10.241.3.0/24", 2) is "10.241.3.2".
func HostIP(subnet string, n int) string {
	_, ipn, err := net.ParseCIDR(subnet)
	if err != nil {
		panic(fmt.Sprintf("testbed: HostIP(%q): %v", subnet, err))
	}
	ip := ipn.IP.To4()
	if ip == nil {
		panic(fmt.Sprintf("testbed: HostIP(%q): not IPv4", subnet))
	}
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v += uint32(n)
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).String()
}

// Env returns the docker CLI environment (DOCKER_HOST and, for TLS,
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) for running `docker` or
// `docker-compose` against this engine as a witness.
func (e *Engine) Env() []string {
	env := []string{"DOCKER_HOST=" + e.Host}
	if e.TLS != nil {
		env = append(env, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+e.TLS.Dir)
	}
	return env
}

// Stop stops an extra engine: it removes every container (forced, with its
// anonymous volumes), stops dockerd and its containerd, and removes the
// engine's bridge, firewall rule, mounts and files. For the local engine it
// only closes the client.
func (e *Engine) Stop(ctx context.Context) error {
	if e.daemon == nil {
		return e.Client.Close()
	}
	var errs []error
	if err := removeAllContainers(ctx, e.Client); err != nil {
		errs = append(errs, err)
	}
	e.Client.Close()
	if err := e.daemon.destroy(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop engine %s: %w", e.Host, err)
	}
	return nil
}

// Restart stops an extra engine's dockerd and starts it again on the same
// data, as a machine reboot or an engine upgrade would: containers stop and
// those with a restart policy come back. The Client stays usable.
func (e *Engine) Restart(ctx context.Context) error {
	if e.daemon == nil {
		return fmt.Errorf("restart %s: only extra engines can be restarted", e.Host)
	}
	if err := e.daemon.stop(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", e.Host, err)
	}
	if err := e.daemon.start(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", e.Host, err)
	}
	if err := ping(ctx, e.Client, 60*time.Second); err != nil {
		return fmt.Errorf("restart %s: %w", e.Host, err)
	}
	return nil
}

// ping waits up to timeout for the engine to answer.
func ping(ctx context.Context, cli *client.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = cli.Ping(pctx)
		pcancel()
		if err == nil {
			cli.NegotiateAPIVersion(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ping: %w (after %s: %w)", err, timeout, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// RestartWithSeccomp restarts an extra engine (as Restart) with the
// seccomp profile at path as the default of every container it creates
// (dockerd's seccomp-profile); "" restores Docker's own default.
func (e *Engine) RestartWithSeccomp(ctx context.Context, path string) error {
	if e.daemon == nil {
		return fmt.Errorf("restart %s: only extra engines can be restarted", e.Host)
	}
	data, err := os.ReadFile(e.daemon.config)
	if err != nil {
		return fmt.Errorf("restart %s: %w", e.Host, err)
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("restart %s: daemon config: %w", e.Host, err)
	}
	if path == "" {
		delete(cfg, "seccomp-profile")
	} else {
		cfg["seccomp-profile"] = path
	}
	if data, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return fmt.Errorf("restart %s: daemon config: %w", e.Host, err)
	}
	if err := os.WriteFile(e.daemon.config, data, 0o600); err != nil {
		return fmt.Errorf("restart %s: %w", e.Host, err)
	}
	return e.Restart(ctx)
}
