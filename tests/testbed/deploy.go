package testbed

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"
)

// waitTimeout bounds how long a helper waits for a container to answer.
const waitTimeout = 90 * time.Second

// Deployer lays out containers, networks and volumes on one engine for one
// test, the way real users have them. Everything it creates carries RunLabel
// and CaseLabel; when the test ends, whatever carries this test's labels on
// the engine is removed (containers forced, with their volumes), also when
// the test failed. Its methods fail the test on error.
//
// NewLabDeployer makes one for a lab that outlives its maker (make demo):
// its own labels, and nothing removed at the end.
type Deployer struct {
	Engine *Engine
	// Images are the standard images, defaults for TarsDocs; may be nil.
	Images *Images

	ctx context.Context
	t   TB
	// ident are the labels on everything this Deployer creates, and what
	// picks its containers out for logAll.
	ident map[string]string
}

// TB is what a Deployer needs of its caller: testing.TB has it, and so can a
// program that is not a test (tests/demo), for which Fatal must end the
// work under way (as a test's does).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// NewDeployer returns a Deployer for test t on engine e. Its cleanup is
// registered with t.Cleanup and runs with ctx's values but not its deadline.
func NewDeployer(ctx context.Context, t testing.TB, runID string, e *Engine, images *Images) *Deployer {
	t.Helper()
	// Why the test name as it is: label filters accept slashes and spaces.
	ident := map[string]string{RunLabel: runID, CaseLabel: t.Name()}
	d := &Deployer{Engine: e, Images: images, ctx: ctx, t: t, ident: ident}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			d.logAll(cctx)
		}
		if err := removeLabelled(cctx, e.Client, d.identFilters()...); err != nil {
			t.Errorf("clean up after %s on %s: %v", t.Name(), e.Host, err)
		}
	})
	return d
}

// NewLabDeployer returns a Deployer on engine e whose objects carry labels
// (and none of the test bed's) and stay when its caller is done: what it
// lays out is for somebody to look at, and removing it is the caller's
// business (tests/demo's `down`). t.Fatal must stop the caller's work.
func NewLabDeployer(ctx context.Context, t TB, labels map[string]string, e *Engine, images *Images) *Deployer {
	t.Helper()
	ident := make(map[string]string, len(labels))
	for k, v := range labels {
		ident[k] = v
	}
	return &Deployer{Engine: e, Images: images, ctx: ctx, t: t, ident: ident}
}

// identFilters are the Deployer's labels as label filters (key=value).
func (d *Deployer) identFilters() []string {
	out := make([]string, 0, len(d.ident))
	for k, v := range d.ident {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (d *Deployer) labels(extra map[string]string) map[string]string {
	l := make(map[string]string, len(d.ident)+len(extra))
	for k, v := range d.ident {
		l[k] = v
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// Network creates a user-defined bridge network with the given subnet (for
// static IPs; see Engine.Subnet; "" lets Docker pick) and returns its ID. On
// an extra engine its bridge is named so that the engine's firewall rule
// covers it (see StartEngine).
func (d *Deployer) Network(name, subnet string) string {
	d.t.Helper()
	opts := network.CreateOptions{Driver: "bridge", Labels: d.labels(nil)}
	if subnet != "" {
		opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}}
	}
	if br := d.Engine.bridgeName(name); br != "" {
		opts.Options = map[string]string{"com.docker.network.bridge.name": br}
	}
	resp, err := d.Engine.Client.NetworkCreate(d.ctx, name, opts)
	if err != nil {
		d.t.Fatalf("create network %s (%s) on %s: %v", name, subnet, d.Engine.Host, err)
	}
	return resp.ID
}

// Volume creates a named volume (labelled) and returns its name.
func (d *Deployer) Volume(name string) string {
	d.t.Helper()
	v, err := d.Engine.Client.VolumeCreate(d.ctx, volume.CreateOptions{Name: name, Labels: d.labels(nil)})
	if err != nil {
		d.t.Fatalf("create volume %s on %s: %v", name, d.Engine.Host, err)
	}
	return v.Name
}

// Pull makes sure ref is on the engine, pulling it from its registry when it
// is not (so a test's registry log shows only the pulls tarsup makes).
func (d *Deployer) Pull(ref string) {
	d.t.Helper()
	if err := Pull(d.ctx, d.Engine, ref, false); err != nil {
		d.t.Fatal(err)
	}
}

// Pull pulls ref onto engine e, unless it is there already and always is false.
func Pull(ctx context.Context, e *Engine, ref string, always bool) error {
	if !always {
		if _, err := e.Client.ImageInspect(ctx, ref); err == nil {
			return nil
		}
	}
	rc, err := e.Client.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s on %s: %w", ref, e.Host, err)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("pull %s on %s: read progress: %w", ref, e.Host, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("pull %s on %s: %s", ref, e.Host, msg.Error)
		}
	}
}

// ContainerSpec is what `docker run` would be given.
type ContainerSpec struct {
	Name       string
	Image      string
	Env        []string
	Labels     map[string]string
	Entrypoint []string
	Cmd        []string
	Hostname   string
	// Volumes in `docker run -v` syntax: "name:/path[:ro]" a named volume
	// (created, labelled), "/host/dir:/path[:opts]" a bind mount, "/path" an
	// anonymous volume.
	Volumes []string
	// Networks the container joins: the first at creation, the others
	// before it starts.
	Networks []Attachment
	// NetworkMode is "host", "none" or "container:NAME"; empty means the
	// first of Networks, or the default bridge.
	NetworkMode string
	// Ports in `docker run -p` syntax: "3000:3000", "127.0.0.1:9000-9010:9000-9010".
	Ports []string
	// Restart is "", "no", "always", "unless-stopped" or "on-failure[:N]".
	Restart string
	// NoStart leaves the container created and not started.
	NoStart bool
	// Customize edits the generated configuration before creation, for what
	// the fields above do not cover (capabilities, ulimits, tmpfs, ...).
	Customize func(*container.Config, *container.HostConfig, *network.NetworkingConfig)
}

// Attachment is one network a container joins.
type Attachment struct {
	Network string
	IPv4    string // static address; needs a network with a configured subnet
	Aliases []string
}

// Container is a container a Deployer made, as inspected after its start.
type Container struct {
	ID   string
	Name string
	// IP is the IPv4 address on the first network ("" under host networking).
	IP string
	// IPs maps each network's name to the container's IPv4 address on it.
	IPs map[string]string
}

// Run creates and (unless NoStart) starts a container as spec says, pulling
// its image first when the engine lacks it.
func (d *Deployer) Run(spec ContainerSpec) *Container {
	d.t.Helper()
	c, err := d.run(spec)
	if err != nil {
		d.t.Fatalf("run %s on %s: %v", spec.Name, d.Engine.Host, err)
	}
	return c
}

func (d *Deployer) run(spec ContainerSpec) (*Container, error) {
	if err := Pull(d.ctx, d.Engine, spec.Image, false); err != nil {
		return nil, err
	}
	cfg := &container.Config{
		Image:      spec.Image,
		Env:        spec.Env,
		Labels:     d.labels(spec.Labels),
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		Hostname:   spec.Hostname,
	}
	hc := &container.HostConfig{}
	nc := &network.NetworkingConfig{}

	if err := d.volumes(spec.Volumes, cfg, hc); err != nil {
		return nil, err
	}

	if len(spec.Ports) > 0 {
		exposed, bindings, err := nat.ParsePortSpecs(spec.Ports)
		if err != nil {
			return nil, fmt.Errorf("ports %v: %w", spec.Ports, err)
		}
		cfg.ExposedPorts = exposed
		hc.PortBindings = bindings
	}

	if spec.Restart != "" {
		rp, err := restartPolicy(spec.Restart)
		if err != nil {
			return nil, err
		}
		hc.RestartPolicy = rp
	}

	later := spec.Networks
	switch {
	case spec.NetworkMode != "":
		hc.NetworkMode = container.NetworkMode(spec.NetworkMode)
	case len(spec.Networks) > 0:
		// Why one network at creation: API 1.41 (Engine 20.10) takes only one.
		first := spec.Networks[0]
		hc.NetworkMode = container.NetworkMode(first.Network)
		nc.EndpointsConfig = map[string]*network.EndpointSettings{first.Network: endpoint(first)}
		later = spec.Networks[1:]
	}

	if spec.Customize != nil {
		spec.Customize(cfg, hc, nc)
	}
	created, err := d.Engine.Client.ContainerCreate(d.ctx, cfg, hc, nc, nil, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	for _, a := range later {
		if err := d.Engine.Client.NetworkConnect(d.ctx, a.Network, created.ID, endpoint(a)); err != nil {
			return nil, fmt.Errorf("connect to %s: %w", a.Network, err)
		}
	}
	if !spec.NoStart {
		if err := d.Engine.Client.ContainerStart(d.ctx, created.ID, container.StartOptions{}); err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
	}
	return d.inspect(created.ID)
}

// volumes sets up docker run's -v list: anonymous volumes, bind mounts and
// named volumes (created with the test's labels).
func (d *Deployer) volumes(vols []string, cfg *container.Config, hc *container.HostConfig) error {
	for _, v := range vols {
		parts := strings.Split(v, ":")
		switch {
		case len(parts) == 1:
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		case strings.HasPrefix(parts[0], "/") || strings.HasPrefix(parts[0], "."):
			hc.Binds = append(hc.Binds, v)
		default:
			if _, err := d.Engine.Client.VolumeCreate(d.ctx, volume.CreateOptions{Name: parts[0], Labels: d.labels(nil)}); err != nil {
				return fmt.Errorf("create volume %s: %w", parts[0], err)
			}
			hc.Binds = append(hc.Binds, v)
		}
	}
	return nil
}

// restartPolicy parses docker run's --restart NAME[:COUNT].
func restartPolicy(s string) (container.RestartPolicy, error) {
	name, count, _ := strings.Cut(s, ":")
	rp := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return rp, fmt.Errorf("restart %q: %w", s, err)
		}
		rp.MaximumRetryCount = n
	}
	return rp, nil
}

func endpoint(a Attachment) *network.EndpointSettings {
	es := &network.EndpointSettings{Aliases: a.Aliases}
	if a.IPv4 != "" {
		es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IPv4}
	}
	return es
}

func (d *Deployer) inspect(id string) (*Container, error) {
	info, err := d.Engine.Client.ContainerInspect(d.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", id, err)
	}
	c := &Container{ID: info.ID, Name: strings.TrimPrefix(info.Name, "/"), IPs: map[string]string{}}
	if info.NetworkSettings != nil {
		for name, ep := range info.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			ip := ep.IPAddress
			if ip == "" && ep.IPAMConfig != nil {
				ip = ep.IPAMConfig.IPv4Address // created, not started
			}
			c.IPs[name] = ip
		}
	}
	switch mode := string(info.HostConfig.NetworkMode); {
	case mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:"):
	case mode == "default":
		c.IP = c.IPs["bridge"]
	default:
		c.IP = c.IPs[mode]
	}
	return c, nil
}

// Stop stops a container (docker stop), leaving it in state exited.
func (d *Deployer) Stop(name string) {
	d.t.Helper()
	timeout := 10
	if err := d.Engine.Client.ContainerStop(d.ctx, name, container.StopOptions{Timeout: &timeout}); err != nil {
		d.t.Fatalf("stop %s on %s: %v", name, d.Engine.Host, err)
	}
}

// Logs returns a container's output (stdout and stderr interleaved).
func (d *Deployer) Logs(name string) string {
	d.t.Helper()
	s, err := containerLogs(d.ctx, d.Engine, name)
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}

func containerLogs(ctx context.Context, e *Engine, name string) (string, error) {
	rc, err := e.Client.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", fmt.Errorf("logs of %s on %s: %w", name, e.Host, err)
	}
	defer rc.Close()
	var b strings.Builder
	// The stream is multiplexed (no TTY): 8-byte headers before each frame.
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(rc, hdr); err != nil {
			if errors.Is(err, io.EOF) {
				return b.String(), nil
			}
			return b.String(), fmt.Errorf("logs of %s: %w", name, err)
		}
		n := int64(hdr[4])<<24 | int64(hdr[5])<<16 | int64(hdr[6])<<8 | int64(hdr[7])
		if _, err := io.CopyN(&b, rc, n); err != nil {
			return b.String(), fmt.Errorf("logs of %s: %w", name, err)
		}
	}
}

// hasLabels tells whether labels carries every one of want.
func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// logAll writes the end of every labelled container's logs to the test log.
func (d *Deployer) logAll(ctx context.Context) {
	list, err := d.Engine.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return
	}
	for _, c := range list {
		if !hasLabels(c.Labels, d.ident) {
			continue
		}
		logs, _ := containerLogs(ctx, d.Engine, c.ID)
		lines := strings.Split(strings.TrimSpace(logs), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		d.t.Logf("container %v on %s (%s): last log lines:\n%s", c.Names, d.Engine.Host, c.Status, strings.Join(lines, "\n"))
	}
}

// ReadFile returns the content of a file inside a container (running or not),
// such as /data/tars/db/starts of a fake framework.
func (d *Deployer) ReadFile(name, path string) string {
	d.t.Helper()
	rc, _, err := d.Engine.Client.CopyFromContainer(d.ctx, name, path)
	if err != nil {
		d.t.Fatalf("read %s in %s on %s: %v", path, name, d.Engine.Host, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		d.t.Fatalf("read %s in %s: %v", path, name, err)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		d.t.Fatalf("read %s in %s: %v", path, name, err)
	}
	return string(data)
}

// WaitTCP waits until addr accepts a TCP connection.
func (d *Deployer) WaitTCP(addr string) {
	d.t.Helper()
	if err := WaitTCP(d.ctx, addr, waitTimeout); err != nil {
		d.t.Fatal(err)
	}
}

// WaitHTTP waits until url answers 200 to a GET.
func (d *Deployer) WaitHTTP(url string) {
	d.t.Helper()
	if err := WaitHTTP(d.ctx, url, waitTimeout); err != nil {
		d.t.Fatal(err)
	}
}

// WaitHealth waits until Docker reports the container's health status as
// want ("healthy", "unhealthy"); the image must have a HEALTHCHECK.
func (d *Deployer) WaitHealth(name, want string) {
	d.t.Helper()
	err := poll(d.ctx, waitTimeout, func(ctx context.Context) error {
		info, err := d.Engine.Client.ContainerInspect(ctx, name)
		if err != nil {
			return err
		}
		if info.State == nil || info.State.Health == nil {
			return fmt.Errorf("%s has no health status", name)
		}
		if info.State.Health.Status != want {
			return fmt.Errorf("%s is %s", name, info.State.Health.Status)
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("wait for %s to be %s: %v", name, want, err)
	}
}

// WaitTCP polls until addr accepts a TCP connection or timeout passes.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	err := poll(ctx, timeout, func(ctx context.Context) error {
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return fmt.Errorf("wait for tcp %s: %w", addr, err)
	}
	return nil
}

// WaitHTTP polls until url answers 200 to a GET or timeout passes.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	err := poll(ctx, timeout, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for GET %s: %w", url, err)
	}
	return nil
}

// poll calls try every 200 ms until it succeeds, returning its last error
// when timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, try func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
		err := try(tctx)
		tcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up after %s)", err, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Wait waits until a container is not running and returns its exit code.
func (d *Deployer) Wait(name string) int {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, waitTimeout)
	defer cancel()
	okc, errc := d.Engine.Client.ContainerWait(ctx, name, container.WaitConditionNotRunning)
	select {
	case res := <-okc:
		if res.Error != nil {
			d.t.Fatalf("wait for %s: %s", name, res.Error.Message)
		}
		return int(res.StatusCode)
	case err := <-errc:
		d.t.Fatalf("wait for %s on %s: %v", name, d.Engine.Host, err)
	}
	return -1
}
