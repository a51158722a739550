package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/client"
)

// Extra engines and their addresses. Slot n (1..maxSlot) owns:
//
//	TLS listener     tcp://127.0.0.<10+n>:2376 (also the default published-port IP)
//	bridges          tsup<n>-0 (default, 10.<240+n>.0.1/24), tsup<n>-<hash> (Deployer.Network)
//	subnets          10.<240+n>.0.0/16: Subnet(1..254) for tests
//	state            /run/tarsup-testbed/slot-<n>/ (exec root, socket, config, lock)
//
// Why a slot may differ from the index a test asked for: engineers (and CI)
// run e2e tests side by side on one machine; a slot is held with flock for the
// life of the engine, and StartEngine takes the next free one.
const (
	maxSlot  = 15
	stateDir = "/run/tarsup-testbed"
	tlsPort  = "2376"
	// mtu matches the machine's /etc/docker/daemon.json.
	mtu = 1400
)

// daemon is one extra dockerd and everything it owns on the machine.
type daemon struct {
	slot     int
	ip       string
	bridge   string
	space    string // 10.<240+n>.0.0/16
	execRoot string
	dataRoot string
	config   string
	logPath  string
	lock     *os.File

	cmd    *exec.Cmd
	exited chan struct{}
}

// StartEngine starts an extra dockerd that plays another host, with its own
// data root (under workDir), exec root, pidfile, socket, managed containerd,
// bridge and a TLS listener on 127.0.0.<10+slot>:2376 with certificates made
// for it. index is the preferred slot (1..15); when another process holds it,
// the next free slot is used, so read the addresses from the Engine.
//
// Networking: dockerd runs with --iptables=false (a second dockerd managing
// iptables would flush the main engine's chains), --bridge=tsup<slot>-0 (a
// bridge made here, so docker0 is left alone) and --ip=127.0.0.<10+slot>
// (published ports bind the engine's own address, through docker-proxy).
// Two firewall rules in DOCKER-USER accept forwarded traffic into the
// engine's bridges (tsup<slot>-*, which Deployer.Network names) and to
// 10.<240+slot>.0.0/16 (Subnet), so every engine's containers reach this
// engine's containers directly by IP on any port, as on a routed LAN. A
// network made otherwise (docker-compose) on an extra engine must take its
// subnet from Subnet, or even its own containers cannot talk to each other
// (br_netfilter sends bridged traffic through FORWARD, whose policy is DROP).
// This engine's containers reach containers of the main engine only through
// ports the main engine publishes: at the container's IP or at the host's
// address on this engine's bridge (Gateway), as another host would.
//
// Stop releases everything; a process that dies without Stop leaves state
// that the next StartEngine of that slot cleans up.
func StartEngine(ctx context.Context, workDir string, index int) (*Engine, error) {
	if index < 1 || index > maxSlot {
		return nil, fmt.Errorf("start engine: index %d not in 1..%d", index, maxSlot)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	slot, lock, err := acquireSlot(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("start engine %d: %w", index, err)
	}
	d := newDaemon(slot, workDir, lock)
	e, err := d.setUp(ctx, workDir)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := d.destroy(cctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("start engine in slot %d: %w", slot, err)
	}
	return e, nil
}

func newDaemon(slot int, workDir string, lock *os.File) *daemon {
	execRoot := filepath.Join(stateDir, "slot-"+strconv.Itoa(slot))
	return &daemon{
		slot:     slot,
		ip:       fmt.Sprintf("127.0.0.%d", 10+slot),
		bridge:   fmt.Sprintf("tsup%d-0", slot),
		space:    fmt.Sprintf("10.%d.0.0/16", 240+slot),
		execRoot: execRoot,
		dataRoot: filepath.Join(workDir, fmt.Sprintf("engine-%d", slot)),
		config:   filepath.Join(execRoot, "daemon.json"),
		logPath:  filepath.Join(workDir, fmt.Sprintf("engine-%d.log", slot)),
		lock:     lock,
	}
}

// acquireSlot locks the preferred slot, or else the first free one, waiting
// while all are busy.
func acquireSlot(ctx context.Context, preferred int) (int, *os.File, error) {
	order := []int{preferred}
	for n := 1; n <= maxSlot; n++ {
		if n != preferred {
			order = append(order, n)
		}
	}
	for {
		for _, n := range order {
			f, err := os.OpenFile(filepath.Join(stateDir, fmt.Sprintf("slot-%d.lock", n)), os.O_CREATE|os.O_RDWR, 0o644)
			if err != nil {
				return 0, nil, fmt.Errorf("lock slot %d: %w", n, err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
				return n, f, nil
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("every engine slot is busy: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// CleanFreeSlots removes what extra engines left on the machine when their
// test process died without Stop (bridges, firewall rules, mounts, data),
// for every slot no running process holds.
func CleanFreeSlots(ctx context.Context) error {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("clean engine slots: %w", err)
	}
	var errs []error
	for n := 1; n <= maxSlot; n++ {
		if !fileExists(filepath.Join(stateDir, fmt.Sprintf("slot-%d.json", n))) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(stateDir, fmt.Sprintf("slot-%d.lock", n)), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			errs = append(errs, fmt.Errorf("clean slot %d: %w", n, err))
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // held by a live run
			continue
		}
		d := newDaemon(n, "", f)
		if err := d.cleanStale(ctx); err != nil {
			errs = append(errs, fmt.Errorf("clean slot %d: %w", n, err))
		}
		os.Remove(d.statePath())
		f.Close()
	}
	return errors.Join(errs...)
}

// stale records where a slot's data root is, for cleaning up after a process
// that died without Stop.
type stale struct {
	DataRoot string `json:"dataRoot"`
}

func (d *daemon) statePath() string {
	return filepath.Join(stateDir, fmt.Sprintf("slot-%d.json", d.slot))
}

func (d *daemon) setUp(ctx context.Context, workDir string) (*Engine, error) {
	if err := d.cleanStale(ctx); err != nil {
		return nil, err
	}
	st, err := json.Marshal(stale{DataRoot: d.dataRoot})
	if err != nil {
		return nil, fmt.Errorf("record state: %w", err)
	}
	if err := os.WriteFile(d.statePath(), st, 0o644); err != nil {
		return nil, fmt.Errorf("record state: %w", err)
	}
	for _, dir := range []string{d.execRoot, d.dataRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	cli, srv, err := makeCerts(filepath.Join(workDir, fmt.Sprintf("engine-%d-certs", d.slot)), net.ParseIP(d.ip))
	if err != nil {
		return nil, err
	}
	if err := d.makeBridge(ctx); err != nil {
		return nil, err
	}
	if err := d.firewall(ctx, "-I"); err != nil {
		return nil, err
	}
	if err := d.writeConfig(srv); err != nil {
		return nil, err
	}
	host := "tcp://" + net.JoinHostPort(d.ip, tlsPort)
	c, err := client.NewClientWithOpts(
		client.WithHost(host),
		client.WithTLSClientConfig(cli.CA, cli.Cert, cli.Key),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", host, err)
	}
	if err := d.start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := d.waitReady(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	gw, _, err := net.ParseCIDR(d.bridgeCIDR())
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bridge address: %w", err)
	}
	return &Engine{
		Host:    host,
		TLS:     cli,
		IP:      d.ip,
		Socket:  "unix://" + filepath.Join(d.execRoot, "docker.sock"),
		Gateway: gw.String(),
		Client:  c,
		slot:    d.slot,
		daemon:  d,
	}, nil
}

// bridgePrefix starts the name of every bridge of the engine.
func (d *daemon) bridgePrefix() string { return fmt.Sprintf("tsup%d-", d.slot) }

func (d *daemon) bridgeCIDR() string { return fmt.Sprintf("10.%d.0.1/24", 240+d.slot) }

func (d *daemon) makeBridge(ctx context.Context) error {
	if _, err := net.InterfaceByName(d.bridge); err == nil {
		if err := command(ctx, "ip", "link", "del", d.bridge); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"link", "add", "name", d.bridge, "type", "bridge"},
		{"addr", "add", d.bridgeCIDR(), "dev", d.bridge},
		{"link", "set", d.bridge, "mtu", strconv.Itoa(mtu), "up"},
	} {
		if err := command(ctx, "ip", args...); err != nil {
			return fmt.Errorf("make bridge %s: %w", d.bridge, err)
		}
	}
	return nil
}

// firewallChain is where the rule goes: DOCKER-USER when the main engine
// manages iptables (its FORWARD policy is DROP), else FORWARD.
func firewallChain(ctx context.Context) string {
	if command(ctx, "iptables", "-w", "-n", "-L", "DOCKER-USER") == nil {
		return "DOCKER-USER"
	}
	return "FORWARD"
}

// firewall inserts (op "-I") or deletes (op "-D", every copy) the rule that
// lets forwarded traffic reach this engine's containers.
func (d *daemon) firewall(ctx context.Context, op string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil // no iptables: nothing filters forwarding
	}
	comment := []string{"-m", "comment", "--comment", fmt.Sprintf("tarsup-testbed slot %d", d.slot), "-j", "ACCEPT"}
	rules := [][]string{
		append([]string{"-d", d.space}, comment...),
		append([]string{"-o", d.bridgePrefix() + "+"}, comment...),
	}
	if op == "-I" {
		chain := firewallChain(ctx)
		for _, rule := range rules {
			if err := command(ctx, "iptables", append([]string{"-w", "-I", chain}, rule...)...); err != nil {
				return fmt.Errorf("firewall rule for engine %d: %w", d.slot, err)
			}
		}
		return nil
	}
	for _, chain := range []string{"DOCKER-USER", "FORWARD"} {
		for _, rule := range rules {
			for i := 0; i < 20; i++ {
				if command(ctx, "iptables", append([]string{"-w", "-D", chain}, rule...)...) != nil {
					break
				}
			}
		}
	}
	return nil
}

// daemonConfig is the extra dockerd's configuration file. Why a file and not
// flags: dockerd reads /etc/docker/daemon.json by default and refuses a flag
// that the file also sets (data-root, storage-driver).
//
// Why no default-address-pools: dockerd 20.10 started with pools on a data
// root that already has a default bridge deletes the link named docker0 (the
// main engine's!) whatever --bridge says, so Restart would break the main
// engine. Networks created without a subnet come from Docker's usual pools.
type daemonConfig struct {
	DataRoot      string   `json:"data-root"`
	ExecRoot      string   `json:"exec-root"`
	Pidfile       string   `json:"pidfile"`
	Hosts         []string `json:"hosts"`
	TLS           bool     `json:"tls"`
	TLSVerify     bool     `json:"tlsverify"`
	TLSCACert     string   `json:"tlscacert"`
	TLSCert       string   `json:"tlscert"`
	TLSKey        string   `json:"tlskey"`
	StorageDriver string   `json:"storage-driver"`
	Bridge        string   `json:"bridge"`
	IPTables      bool     `json:"iptables"`
	IPMasq        bool     `json:"ip-masq"`
	IP            string   `json:"ip"`
	MTU           int      `json:"mtu"`
	LogDriver     string   `json:"log-driver"`
}

func (d *daemon) writeConfig(srv *serverTLS) error {
	cfg := daemonConfig{
		DataRoot:  d.dataRoot,
		ExecRoot:  d.execRoot,
		Pidfile:   filepath.Join(d.execRoot, "docker.pid"),
		Hosts:     []string{"unix://" + filepath.Join(d.execRoot, "docker.sock"), "tcp://" + net.JoinHostPort(d.ip, tlsPort)},
		TLS:       true,
		TLSVerify: true,
		TLSCACert: srv.CA,
		TLSCert:   srv.Cert,
		TLSKey:    srv.Key,
		// Why vfs: it needs no mounts, so nothing outlives a killed daemon;
		// the fake images are one small layer, so copying is cheap.
		StorageDriver: "vfs",
		Bridge:        d.bridge,
		IPTables:      false,
		IPMasq:        false,
		IP:            d.ip,
		MTU:           mtu,
		LogDriver:     "json-file",
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("daemon config: %w", err)
	}
	if err := os.WriteFile(d.config, data, 0o600); err != nil {
		return fmt.Errorf("daemon config: %w", err)
	}
	return nil
}

// start runs dockerd. It is not tied to ctx: the engine outlives the call.
func (d *daemon) start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("dockerd log: %w", err)
	}
	cmd := exec.Command("dockerd", "--config-file", d.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Why Pdeathsig: if the test process dies without Stop, dockerd shuts
	// down (stopping its containers) instead of lingering.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start dockerd: %w", err)
	}
	d.cmd = cmd
	d.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is in the log; exited says it happened
		logf.Close()
		close(d.exited)
	}()
	return nil
}

func (d *daemon) waitReady(ctx context.Context, c *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := c.Ping(pctx)
		pcancel()
		if err == nil {
			c.NegotiateAPIVersion(ctx)
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("dockerd exited during start-up: %s", d.logTail())
		case <-ctx.Done():
			return fmt.Errorf("dockerd did not answer at %s: %w: %s", d.ip, err, d.logTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *daemon) logTail() string {
	data, err := os.ReadFile(d.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "last lines of " + d.logPath + ":\n" + strings.Join(lines, "\n")
}

// stop ends dockerd gracefully (it stops its containers and its containerd),
// killing it and whatever it left after a grace period.
func (d *daemon) stop(ctx context.Context) error {
	if d.cmd == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM) // fails only if already gone
	select {
	case <-d.exited:
	case <-time.After(45 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	case <-ctx.Done():
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
	// containerd and its shims outlive a killed dockerd.
	return killByPath(d.execRoot)
}

// destroy stops the daemon and removes everything it owned, then frees the slot.
func (d *daemon) destroy(ctx context.Context) error {
	var errs []error
	if err := d.stop(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := d.removeLeftovers(ctx, d.dataRoot); err != nil {
		errs = append(errs, err)
	}
	os.Remove(d.statePath())
	if d.lock != nil {
		d.lock.Close() // releases the flock
		d.lock = nil
	}
	return errors.Join(errs...)
}

// cleanStale removes what a previous holder of the slot left: processes,
// mounts, bridge, firewall rule, files.
func (d *daemon) cleanStale(ctx context.Context) error {
	if err := killByPath(d.execRoot); err != nil {
		return err
	}
	var st stale
	if data, err := os.ReadFile(d.statePath()); err == nil && json.Unmarshal(data, &st) == nil && st.DataRoot != "" {
		return d.removeLeftovers(ctx, st.DataRoot)
	}
	return d.removeLeftovers(ctx, "")
}

func (d *daemon) removeLeftovers(ctx context.Context, dataRoot string) error {
	var errs []error
	roots := []string{d.execRoot}
	if dataRoot != "" {
		roots = append(roots, dataRoot)
	}
	if err := unmountUnder(roots...); err != nil {
		errs = append(errs, err)
	}
	if _, err := net.InterfaceByName(d.bridge); err == nil {
		if err := command(ctx, "ip", "link", "del", d.bridge); err != nil {
			errs = append(errs, err)
		}
	}
	// Bridges of user-defined networks that dockerd had no chance to remove.
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			if strings.HasPrefix(ifc.Name, d.bridgePrefix()) {
				if err := command(ctx, "ip", "link", "del", ifc.Name); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := d.firewall(ctx, "-D"); err != nil {
		errs = append(errs, err)
	}
	for _, r := range roots {
		if err := os.RemoveAll(r); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// killByPath kills every process whose command line mentions path: the extra
// dockerd (its config file is there), its containerd and shims (their socket
// is there). The path is the slot's own, so nothing else matches.
func killByPath(path string) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var killed []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(path+"/")) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, pid)
		}
	}
	// Wait briefly so that mounts and sockets are released before cleanup.
	for _, pid := range killed {
		for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// unmountUnder detaches every mount below the given directories, deepest first.
func unmountUnder(roots ...string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMount(f[4])
		for _, r := range roots {
			if p == r || strings.HasPrefix(p, r+"/") {
				points = append(points, p)
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount decodes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// command runs a system tool, returning its output in the error.
func command(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
