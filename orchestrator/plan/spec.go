package plan

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/go-connections/nat"
	"github.com/tarsup/tarsup/images"
)

// Spec is everything the engine needs to create a container: the create
// call's three configurations, and the networks to connect before the first
// start (API 1.41 takes one network at create time).
type Spec struct {
	// Image is what the container is created from: a reference or an image ID.
	Image      string                               `json:"image"`
	Config     *container.Config                    `json:"config"`
	HostConfig *container.HostConfig                `json:"host_config"`
	Primary    string                               `json:"primary_network,omitempty"`
	Networks   map[string]*network.EndpointSettings `json:"networks,omitempty"`
	// ImageID and RepoDigest let a rollback find the exact image again, or
	// pull it back if it was removed.
	ImageID    string `json:"image_id,omitempty"`
	RepoDigest string `json:"repo_digest,omitempty"`
}

// DeriveInput is what a faithful recreate needs to know about the old container.
type DeriveInput struct {
	Old      container.InspectResponse
	OldImage image.InspectResponse // empty when the old image is gone
	NewImage image.InspectResponse
	// NewRef is the reference the new container is created from.
	NewRef string
	// Role is the container's Tars role (framework containers never get REBUILD=true).
	Role images.Role
	// APIVersion is the negotiated Engine API version (MAC addresses moved in 1.44).
	APIVersion string
	// Networks are the engine's networks by name (see PinAddresses); nil
	// when unknown.
	Networks map[string]NetworkFacts
	// Labels are set over the labels copied from Old (the plan's overrides).
	Labels map[string]string
}

// tarsupLabels are the journal labels that must not be copied to a successor.
var tarsupLabels = []string{LabelTxn, LabelTxnName, LabelTxnOld, LabelTxnOldRunning, LabelTxnOwner, LabelTxnStarted, LabelPrevious}

// Derive builds the create configuration of a container that replaces old:
// everything the operator set is kept; what the old image merely defaulted
// comes from the new image instead. See the README's table.
func Derive(in DeriveInput) Spec {
	old := in.Old
	oc := old.Config
	if oc == nil {
		oc = &container.Config{}
	}
	var ic container.Config // the old image's defaults
	if in.OldImage.Config != nil {
		ic = *dockerspecToConfig(in.OldImage)
	}
	var nc container.Config
	if in.NewImage.Config != nil {
		nc = *dockerspecToConfig(in.NewImage)
	}

	cfg := &container.Config{
		Image:        in.NewRef,
		Hostname:     oc.Hostname,
		Domainname:   oc.Domainname,
		User:         differs(oc.User, ic.User),
		AttachStdin:  oc.AttachStdin,
		AttachStdout: oc.AttachStdout,
		AttachStderr: oc.AttachStderr,
		Tty:          oc.Tty,
		OpenStdin:    oc.OpenStdin,
		StdinOnce:    oc.StdinOnce,
		Env:          operatorEnv(oc.Env, ic.Env),
		Labels:       operatorLabels(oc.Labels, ic.Labels, in.Labels),
		WorkingDir:   differs(oc.WorkingDir, ic.WorkingDir),
		StopSignal:   differs(oc.StopSignal, ic.StopSignal),
		StopTimeout:  oc.StopTimeout,
		ExposedPorts: operatorPorts(oc.ExposedPorts, ic.ExposedPorts),
		Volumes:      operatorVolumes(oc.Volumes, ic.Volumes),
	}
	if !slices.Equal(oc.Cmd, ic.Cmd) || !slices.Equal(oc.Entrypoint, ic.Entrypoint) {
		// Why both: docker resets the image's Cmd when Entrypoint is set, so an
		// operator's entrypoint only keeps its meaning together with its Cmd.
		if !slices.Equal(oc.Entrypoint, ic.Entrypoint) {
			cfg.Entrypoint = oc.Entrypoint
			cfg.Cmd = oc.Cmd
		} else {
			cfg.Cmd = oc.Cmd
		}
	}
	if !slices.Equal(oc.Shell, ic.Shell) {
		cfg.Shell = oc.Shell
	}
	if oc.Healthcheck != nil && !healthEqual(oc.Healthcheck, ic.Healthcheck) {
		cfg.Healthcheck = oc.Healthcheck
	}
	// Docker defaults the hostname to the short container ID; a new container
	// gets its own unless the operator chose one.
	if len(old.ID) >= 12 && cfg.Hostname == old.ID[:12] {
		cfg.Hostname = ""
	}
	if old.HostConfig != nil && old.HostConfig.NetworkMode.IsContainer() {
		// Why: in another container's network namespace the hostname is
		// that container's (the engine reports it as this one's), and the
		// engine refuses a create that sets one ("conflicting options:
		// hostname and the network mode").
		cfg.Hostname, cfg.Domainname = "", ""
	}
	if in.Role == images.RoleFramework {
		env := envMap(append(slices.Clone(nc.Env), cfg.Env...))
		if env["REBUILD"] == "true" {
			// Why: REBUILD=true drops every Tars database. The guard refuses a
			// container that has it; an image default must not bring it back.
			cfg.Env = setEnv(cfg.Env, "REBUILD", "false")
		}
	}

	return deriveNetworks(in, cfg, oc.MacAddress) //nolint:staticcheck // the field an API < 1.44 engine reports a user-set MAC in
}

// deriveNetworks completes a derived configuration with the old container's
// host configuration and its networks, asking for its addresses (and MAC).
func deriveNetworks(in DeriveInput, cfg *container.Config, mac string) Spec {
	old := in.Old
	hc := container.HostConfig{}
	if old.HostConfig != nil {
		hc = *old.HostConfig
	}
	hc.ContainerIDFile = ""
	hc.Links = legacyLinks(hc.Links)
	hc.Binds = append(slices.Clone(hc.Binds), anonymousVolumes(old)...)
	hc.Mounts = slices.Clone(hc.Mounts)

	spec := Spec{Image: in.NewRef, Config: cfg, HostConfig: &hc}
	spec.Primary, spec.Networks = Endpoints(old, hc.NetworkMode)
	pins, _ := PinAddresses(old, in.Networks, in.APIVersion)
	for _, p := range pins {
		// Why: Tars records the IPs of its framework and nodes
		// (t_node_info); a new container must ask for the old one's address
		// or the engine may hand it a lower free one. Creating binds no
		// address: it is taken at start, after the old container stopped.
		if ep := spec.Networks[p.Network]; ep != nil {
			if ep.IPAMConfig == nil {
				ep.IPAMConfig = &network.EndpointIPAMConfig{}
			}
			if p.IPv6 {
				ep.IPAMConfig.IPv6Address = p.IP
			} else {
				ep.IPAMConfig.IPv4Address = p.IP
			}
		}
	}
	if mac != "" {
		if versions.LessThan(in.APIVersion, "1.44") || spec.Primary == "" {
			cfg.MacAddress = mac //nolint:staticcheck // still the way on API < 1.44
		} else if ep := spec.Networks[spec.Primary]; ep != nil {
			ep.MacAddress = mac
		}
	}
	return spec
}

// dockerspecToConfig returns an image's default container configuration.
func dockerspecToConfig(img image.InspectResponse) *container.Config {
	c := img.Config
	out := &container.Config{
		User:         c.User,
		Env:          c.Env,
		Cmd:          c.Cmd,
		Entrypoint:   c.Entrypoint,
		WorkingDir:   c.WorkingDir,
		Labels:       c.Labels,
		StopSignal:   c.StopSignal,
		Shell:        c.Shell,
		ExposedPorts: map[nat.Port]struct{}{},
		Volumes:      c.Volumes,
	}
	for p := range c.ExposedPorts {
		out.ExposedPorts[nat.Port(p)] = struct{}{}
	}
	if c.Healthcheck != nil {
		out.Healthcheck = &container.HealthConfig{
			Test: c.Healthcheck.Test, Interval: c.Healthcheck.Interval, Timeout: c.Healthcheck.Timeout,
			StartPeriod: c.Healthcheck.StartPeriod, StartInterval: c.Healthcheck.StartInterval, Retries: c.Healthcheck.Retries,
		}
	}
	return out
}

func differs(v, imageDefault string) string {
	if v == imageDefault {
		return ""
	}
	return v
}

func healthEqual(a, b *container.HealthConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Test, b.Test) && a.Interval == b.Interval && a.Timeout == b.Timeout &&
		a.StartPeriod == b.StartPeriod && a.Retries == b.Retries
}

// operatorEnv keeps the entries the operator set: those not identical to the
// old image's own default, so the new image's defaults take their place.
func operatorEnv(env, imageEnv []string) []string {
	defaults := map[string]bool{}
	for _, kv := range imageEnv {
		defaults[kv] = true
	}
	var out []string
	for _, kv := range env {
		if !defaults[kv] {
			out = append(out, kv)
		}
	}
	return out
}

func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// operatorLabels keeps the labels the operator set (not the old image's own
// defaults, not tarsup's journal) and sets overrides over them.
func operatorLabels(labels, imageLabels, overrides map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if iv, ok := imageLabels[k]; ok && iv == v {
			continue
		}
		if slices.Contains(tarsupLabels, k) {
			continue
		}
		out[k] = v
	}
	maps.Copy(out, overrides)
	return out
}

func operatorPorts(ports, imagePorts map[nat.Port]struct{}) map[nat.Port]struct{} {
	out := map[nat.Port]struct{}{}
	for p := range ports {
		if _, ok := imagePorts[p]; !ok {
			out[p] = struct{}{}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func operatorVolumes(vols, imageVols map[string]struct{}) map[string]struct{} {
	out := map[string]struct{}{}
	for v := range vols {
		if _, ok := imageVols[v]; !ok {
			out[v] = struct{}{}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// legacyLinks turns inspect's "/db:/me/alias" links back into "db:alias".
func legacyLinks(links []string) []string {
	var out []string
	for _, l := range links {
		target, alias, ok := strings.Cut(l, ":")
		if !ok {
			out = append(out, l)
			continue
		}
		out = append(out, strings.TrimPrefix(target, "/")+":"+alias[strings.LastIndex(alias, "/")+1:])
	}
	return out
}

// anonymousVolumes returns binds that reattach the old container's anonymous
// volumes (from `-v /path` or an image VOLUME) by name: the same volumes, not
// new empty ones.
func anonymousVolumes(old container.InspectResponse) []string {
	covered := map[string]bool{}
	if old.HostConfig != nil {
		for _, b := range old.HostConfig.Binds {
			if parts := strings.Split(b, ":"); len(parts) >= 2 {
				covered[parts[1]] = true
			}
		}
		for _, m := range old.HostConfig.Mounts {
			covered[m.Target] = true
		}
		for t := range old.HostConfig.Tmpfs {
			covered[t] = true
		}
	}
	var out []string
	for _, m := range old.Mounts {
		if m.Type != mount.TypeVolume || covered[m.Destination] || m.Name == "" {
			continue
		}
		b := m.Name + ":" + m.Destination
		if !m.RW {
			b += ":ro"
		}
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

// EncodeSpec packs a spec into a label value (gzip + base64: a label is text).
func EncodeSpec(s Spec) (string, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode previous configuration: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", fmt.Errorf("encode previous configuration: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("encode previous configuration: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// DecodeSpec reads a spec packed by EncodeSpec.
func DecodeSpec(v string) (Spec, error) {
	var s Spec
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return s, fmt.Errorf("decode previous configuration: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return s, fmt.Errorf("decode previous configuration: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		return s, fmt.Errorf("decode previous configuration: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("decode previous configuration: %w", err)
	}
	return s, nil
}
