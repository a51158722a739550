// Package engine connects to Docker Engines: the narrow Engine interface
// tarsup drives, the hosts (URL, TLS, name) from flags or an inventory file,
// and Connect/ConnectAll/CloseAll.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/tlsconfig"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
)

// Engine is the part of the Docker Engine API that tarsup uses. It is
// satisfied by *client.Client from github.com/docker/docker; unit tests use a
// small fake.
type Engine interface {
	// ClientVersion is the API version negotiated at Connect. It is the one
	// method without a context: *client.Client reads it from memory and its
	// signature is the docker client's, not ours.
	ClientVersion() string
	Ping(ctx context.Context) (types.Ping, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, id string, options container.StartOptions) error
	ContainerStop(ctx context.Context, id string, options container.StopOptions) error
	ContainerRename(ctx context.Context, id, newName string) error
	ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error
	ContainerLogs(ctx context.Context, id string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerWait(ctx context.Context, id string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	// ContainerAttach streams a container's stdin and output (tarsdb's
	// database clients); the caller closes the response.
	ContainerAttach(ctx context.Context, id string, options container.AttachOptions) (types.HijackedResponse, error)
	// ContainerExecCreate, ContainerExecAttach (which starts the exec) and
	// ContainerExecInspect run a hook inside a container (the labels
	// tarsup.hook.pre-stop and tarsup.hook.post-start).
	ContainerExecCreate(ctx context.Context, id string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, options container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkDisconnect(ctx context.Context, networkID, containerID string, force bool) error
	ImageInspect(ctx context.Context, id string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
	ImageRemove(ctx context.Context, id string, options image.RemoveOptions) ([]image.DeleteResponse, error)
	// Info is `docker info`: the engine's registry mirrors, for the
	// look-ups of Docker Hub images.
	Info(ctx context.Context) (system.Info, error)
	// Events streams the engine's events until ctx ends: a gate waits on
	// a HEALTHCHECK's health_status events instead of polling for them.
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}

// Why: a compile-time proof that the docker client satisfies Engine.
var _ Engine = (*client.Client)(nil)

// TLSOptions are the docker CLI's TLS settings. They apply to the tcp://
// engines of a command, as with the docker CLI.
type TLSOptions struct {
	// Verify checks the engine's certificate against CACert (--tlsverify).
	Verify bool
	// Enabled uses TLS without necessarily verifying (--tls); Verify implies it.
	Enabled bool
	CACert  string
	Cert    string
	Key     string
}

// On reports whether TLS is requested at all.
func (t TLSOptions) On() bool { return t.Verify || t.Enabled }

// HostSpec says how to reach one Docker Engine.
type HostSpec struct {
	// URL is unix:///path or tcp://host:port.
	URL string
	TLS TLSOptions
	// Insecure allows a plain tcp:// to a non-loopback address.
	Insecure bool
	// Name is how reports name this host; URL when empty.
	Name string
}

// Label returns the name reports use for the host.
func (h HostSpec) Label() string {
	if h.Name != "" {
		return h.Name
	}
	return h.URL
}

// DefaultHost is the engine a command talks to when no --host is given.
const DefaultHost = "unix:///var/run/docker.sock"

// TLSFromEnv fills the docker CLI's environment defaults into t:
// DOCKER_TLS_VERIFY turns verification on, DOCKER_CERT_PATH (else ~/.docker)
// supplies ca.pem, cert.pem and key.pem for whatever flags left empty.
func TLSFromEnv(t TLSOptions, getenv func(string) string) TLSOptions {
	if getenv("DOCKER_TLS_VERIFY") != "" {
		t.Verify = true
	}
	if !t.On() {
		return t
	}
	dir := getenv("DOCKER_CERT_PATH")
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".docker")
		}
	}
	if dir != "" {
		if t.CACert == "" {
			t.CACert = filepath.Join(dir, "ca.pem")
		}
		if t.Cert == "" {
			t.Cert = filepath.Join(dir, "cert.pem")
		}
		if t.Key == "" {
			t.Key = filepath.Join(dir, "key.pem")
		}
	}
	return t
}

// ValidateHost checks a host spec before anything dials it: the scheme, and
// the rule that a plain tcp:// to a non-loopback address needs --insecure.
func ValidateHost(h HostSpec) error {
	u, err := url.Parse(h.URL)
	if err != nil || u.Scheme == "" {
		return fault.Mark(fault.BadInput, fmt.Errorf("bad engine URL %q: use unix:///var/run/docker.sock or tcp://HOST:PORT", h.URL))
	}
	switch u.Scheme {
	case "unix", "npipe":
		return nil
	case "tcp", "http", "https":
	default:
		return fault.Mark(fault.BadInput, fmt.Errorf("bad engine URL %q: scheme %q is not supported; use unix:// or tcp://", h.URL, u.Scheme))
	}
	host := u.Hostname()
	if host == "" || u.Port() == "" {
		return fault.Mark(fault.BadInput, fmt.Errorf("bad engine URL %q: name the host and port, as in tcp://10.0.0.5:2376", h.URL))
	}
	if h.TLS.On() || u.Scheme == "https" || h.Insecure || images.IsLoopback(host) {
		return nil
	}
	return fault.Mark(fault.BadInput, fmt.Errorf("refusing plain %s without TLS: anyone on the network could drive that engine; use --tlsverify with --tlscacert/--tlscert/--tlskey (or DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), or --insecure if you really mean it", h.URL))
}

// Host is one connected Docker Engine.
type Host struct {
	Spec   HostSpec
	Engine Engine
	// Remote is true for engines reached over tcp://: tarsup cannot route to
	// their containers' addresses, so probes run next to the container.
	Remote bool
	closer io.Closer
}

// Name returns the host's name for reports.
func (h *Host) Name() string { return h.Spec.Label() }

// Close releases the connection.
func (h *Host) Close() error {
	if h.closer == nil {
		return nil
	}
	return h.closer.Close()
}

// connectTimeout bounds the first contact with an engine: an engine that does
// not answer in that time is reported as unreachable (exit 2).
const connectTimeout = 8 * time.Second

// Connect reaches the engine, negotiates the API version and checks it
// answers within a few seconds.
func Connect(ctx context.Context, spec HostSpec) (*Host, error) {
	if err := ValidateHost(spec); err != nil {
		return nil, err
	}
	opts := []client.Opt{client.WithHost(spec.URL), client.WithAPIVersionNegotiation()}
	u, _ := url.Parse(spec.URL)
	remote := u.Scheme != "unix" && u.Scheme != "npipe"
	if remote && spec.TLS.On() {
		tc, err := tlsconfig.Client(tlsconfig.Options{
			CAFile:             spec.TLS.CACert,
			CertFile:           spec.TLS.Cert,
			KeyFile:            spec.TLS.Key,
			InsecureSkipVerify: !spec.TLS.Verify,
			ExclusiveRootPools: true,
		})
		if err != nil {
			return nil, fault.Mark(fault.BadInput, fmt.Errorf("TLS material for %s: %w (check --tlscacert, --tlscert, --tlskey or DOCKER_CERT_PATH)", spec.URL, err))
		}
		hc := &http.Client{Transport: &http.Transport{
			TLSClientConfig: tc,
			DialContext:     (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		}}
		opts = append(opts, client.WithHTTPClient(hc), client.WithScheme("https"))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("engine %s: %w", spec.URL, err))
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		_ = cli.Close()
		return nil, fault.Mark(fault.Unreachable, fmt.Errorf("engine %s does not answer: %w (%s)", spec.URL, err, pingHint(spec, err)))
	}
	cli.NegotiateAPIVersion(pctx)
	return &Host{Spec: spec, Engine: cli, Remote: remote, closer: cli}, nil
}

// pingHint is the fix for an engine that did not answer a ping. Why the
// two TLS cases by name: an engine that speaks TLS answers a plain request
// with an error of its own, which read alone suggests a broken daemon.
func pingHint(spec HostSpec, err error) string {
	msg := err.Error()
	switch {
	case !spec.TLS.On() && strings.Contains(msg, "Client sent an HTTP request to an HTTPS server"):
		return "it speaks TLS, and tarsup has no TLS settings for it: give --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY (or DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or tls: in the inventory)"
	case spec.TLS.On() && strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "it does not speak TLS: drop the TLS settings for it, or make dockerd listen with --tlsverify"
	}
	return "is dockerd running there, and are the URL and TLS settings right?"
}

// ConnectAll reaches every engine in parallel. On any failure it closes the
// ones it reached and returns every error joined, so that one answer names
// every unreachable host.
func ConnectAll(ctx context.Context, specs []HostSpec) ([]*Host, error) {
	for _, s := range specs {
		if err := ValidateHost(s); err != nil {
			return nil, err
		}
	}
	hosts := make([]*Host, len(specs))
	errs := make([]error, len(specs))
	done := make(chan struct{})
	for i, s := range specs {
		go func() {
			defer func() { done <- struct{}{} }()
			hosts[i], errs[i] = Connect(ctx, s)
		}()
	}
	for range specs {
		<-done
	}
	if err := errors.Join(errs...); err != nil {
		CloseAll(hosts)
		// errors.Join loses the kinds' precedence; keep the first kind.
		for _, e := range errs {
			if e != nil {
				return nil, markLike(e, err)
			}
		}
	}
	return hosts, nil
}

// markLike marks err with the kind of like, when like has one.
func markLike(like, err error) error {
	if k := fault.Of(like); k != nil {
		return fault.Mark(k, err)
	}
	return err
}

// CloseAll closes every non-nil host.
func CloseAll(hosts []*Host) {
	for _, h := range hosts {
		if h != nil {
			_ = h.Close()
		}
	}
}

// HostsFromFlags turns --host values (or DOCKER_HOST, or the local socket)
// and the shared TLS flags into host specs.
func HostsFromFlags(urls []string, tls TLSOptions, insecure bool, getenv func(string) string) []HostSpec {
	if len(urls) == 0 {
		if h := getenv("DOCKER_HOST"); h != "" {
			urls = []string{h}
		} else {
			urls = []string{DefaultHost}
		}
	}
	tls = TLSFromEnv(tls, getenv)
	specs := make([]HostSpec, 0, len(urls))
	for _, u := range urls {
		u = strings.TrimSpace(u)
		s := HostSpec{URL: u, Insecure: insecure}
		if !strings.HasPrefix(u, "unix://") {
			s.TLS = tls
		}
		specs = append(specs, s)
	}
	return specs
}
