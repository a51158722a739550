package plan

import (
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/owner"
)

// Labels tarsup puts on the containers it creates. They are the journal of an
// upgrade: they live on the engine, so any machine can recover an upgrade that
// was interrupted by a kill, a reboot or an engine restart.
const (
	// LabelTxn marks a container created by an upgrade; the value is the
	// upgrade's id.
	LabelTxn = "tarsup.txn"
	// LabelTxnName is the name of the service the container replaces.
	LabelTxnName = "tarsup.txn.name"
	// LabelTxnOld is the ID of the container it replaces.
	LabelTxnOld = "tarsup.txn.old"
	// LabelTxnOldRunning records whether the replaced container was running.
	LabelTxnOldRunning = "tarsup.txn.old-running"
	// LabelTxnOwner names the tarsup process doing the swap (see Owner).
	LabelTxnOwner = owner.LabelOwner
	// LabelTxnStarted is when the swap started (RFC 3339).
	LabelTxnStarted = owner.LabelStarted
	// LabelPrevious holds the replaced container's configuration, so that
	// `tarsup rollback NAME` can put it back after the old container is gone.
	LabelPrevious = "tarsup.previous"
	// LabelProbe marks tarsup's own probe containers and image.
	LabelProbe = "tarsup.probe"
)

// OCIVersionLabel is the image label that carries the image's version.
const OCIVersionLabel = "org.opencontainers.image.version"

// Container is what tarsup knows of one container: plain values, read once.
type Container struct {
	Host    string // the host's name in reports (its URL unless named)
	ID      string
	Name    string // without the leading slash
	Role    images.Role
	Slave   bool
	Image   string // the reference the container was created from
	ImageID string
	// RepoDigests of the container's image, as the engine records them.
	RepoDigests  []string
	Version      string
	State        string // running, exited, created, restarting, ...
	Running      bool
	RestartCount int
	StartedAt    string
	// DockerHealth is Docker's health status ("" without a HEALTHCHECK).
	DockerHealth string
	Rebuild      bool
	Env          map[string]string
	Labels       map[string]string
	IPs          []string
	// Inspect is the full inspection, the source of a faithful recreate.
	Inspect container.InspectResponse
	// ImageInfo is the inspection of the container's image (empty if the image is gone).
	ImageInfo image.InspectResponse
}

// ShortID returns the first 12 hex digits of the container ID.
func (c Container) ShortID() string { return Short(c.ID) }

// Short is an ID without "sha256:", cut to 12 hex digits as docker shows it.
func Short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// IsTars reports whether the container takes part in Tars discovery.
func (c Container) IsTars() bool { return c.Role != images.RoleNone && c.Role != images.RoleIgnore }

// Master reports whether the container is a framework master (runs the web).
func (c Container) Master() bool { return c.Role == images.RoleFramework && !c.Slave }

// Digest returns the repo digest of the container's image in the
// container's own repository, or the image ID when none is recorded.
func (c Container) Digest() string {
	if d := images.RepoDigest(c.RepoDigests, c.Image); d != "" {
		return d
	}
	if len(c.RepoDigests) > 0 {
		d := c.RepoDigests[0]
		return d[strings.LastIndex(d, "@")+1:]
	}
	return c.ImageID
}

// envMap parses KEY=VALUE entries; later entries win, as in Docker.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// rebuildOn reports whether an environment makes the framework drop its
// databases: only the exact value "true" does (deploy/docker-init.sh).
func rebuildOn(env map[string]string) bool { return env["REBUILD"] == "true" }

// FromInspect turns an inspection into a Container, without its role's
// relationships (db detection needs the whole engine's view).
func FromInspect(host string, in container.InspectResponse, img image.InspectResponse) Container {
	c := Container{
		Host:      host,
		ID:        in.ID,
		Name:      strings.TrimPrefix(in.Name, "/"),
		ImageID:   in.Image,
		ImageInfo: img,
		Inspect:   in,
	}
	if in.Config != nil {
		c.Image = in.Config.Image
		c.Env = envMap(in.Config.Env)
		c.Labels = in.Config.Labels
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.RepoDigests = img.RepoDigests
	c.Role = images.Classify(c.Image, c.Labels)
	c.Slave = c.Role == images.RoleFramework && c.Env["SLAVE"] == "true"
	c.Rebuild = c.Role == images.RoleFramework && rebuildOn(c.Env)
	if in.State != nil {
		c.State = in.State.Status
		c.Running = in.State.Running
		c.StartedAt = in.State.StartedAt
		if in.State.Health != nil {
			c.DockerHealth = in.State.Health.Status
		}
	}
	c.RestartCount = in.RestartCount
	c.Version = versionOf(c.Image, img)
	if in.NetworkSettings != nil {
		for _, ep := range in.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			if ep.IPAddress != "" {
				c.IPs = append(c.IPs, ep.IPAddress)
			}
			if ep.GlobalIPv6Address != "" {
				c.IPs = append(c.IPs, ep.GlobalIPv6Address)
			}
		}
		sort.Strings(c.IPs)
	}
	return c
}

// versionOf prefers the image's version label (tars-node tags float), then the tag.
func versionOf(ref string, img image.InspectResponse) string {
	if img.Config != nil {
		if v := img.Config.Labels[OCIVersionLabel]; v != "" {
			return v
		}
	}
	if r, err := images.Parse(ref); err == nil {
		return r.Tag()
	}
	return ""
}

// TarsOnly gives the db role where frameworks point, then keeps the Tars
// containers (and any container of an upgrade), in name order.
func TarsOnly(all []Container) []Container {
	markDatabases(all)
	var tars []Container
	for _, c := range all {
		if c.IsTars() || isTxnContainer(c) {
			tars = append(tars, c)
		}
	}
	sort.Slice(tars, func(i, j int) bool { return tars[i].Name < tars[j].Name })
	return tars
}

// isTxnContainer reports whether a container belongs to an upgrade, even when
// its role could not be told (recovery must see it).
func isTxnContainer(c Container) bool { return c.Labels[LabelTxn] != "" }

// markDatabases gives the db role to a container that a framework's
// MYSQL_HOST (or the legacy DBIP) names, by container name, network alias or IP.
func markDatabases(all []Container) {
	targets := map[string]bool{}
	for _, c := range all {
		if c.Role != images.RoleFramework {
			continue
		}
		for _, k := range []string{"MYSQL_HOST", "DBIP"} {
			if v := c.Env[k]; v != "" {
				targets[v] = true
			}
		}
	}
	if len(targets) == 0 {
		return
	}
	for i := range all {
		c := &all[i]
		if c.Role != images.RoleNone || c.Labels[images.RoleLabel] != "" {
			continue
		}
		for _, n := range dbNames(*c) {
			if targets[n] {
				c.Role = images.RoleDB
				break
			}
		}
	}
}

// dbNames lists the names under which other containers can reach c.
func dbNames(c Container) []string {
	names := append([]string{c.Name, c.ShortID()}, c.IPs...)
	if c.Inspect.Config != nil && c.Inspect.Config.Hostname != "" {
		names = append(names, c.Inspect.Config.Hostname)
	}
	if c.Inspect.NetworkSettings != nil {
		for _, ep := range c.Inspect.NetworkSettings.Networks {
			if ep != nil {
				names = append(names, ep.Aliases...)
			}
		}
	}
	return names
}

// HostState is one engine's observed Tars containers.
type HostState struct {
	// Host is the engine's name (engine.Host.Name): a plan needs to know
	// where, never how to reach it.
	Host string
	// APIVersion is the negotiated Engine API version.
	APIVersion string
	Containers []Container
	// Holders are the containers, Tars or not, under the temporary names
	// tarsup's swaps use, and whether each is tarsup's (see checkClashes).
	Holders []NameHolder
	// Networks are the engine's networks by name (what pinning an address
	// on them needs).
	Networks map[string]NetworkFacts
	// RunningOn lists, by network name, the IDs of the running containers
	// (Tars or not) attached to it: whether a swapped container would be
	// alone there (Policy.applyAnnounce).
	RunningOn map[string][]string
	// ImageUsers lists, by image ID, the IDs of every container (Tars or
	// not, running or not) that uses it: what a cleanup's plan needs.
	ImageUsers map[string][]string
	// Listing fingerprints the container list observed (see observeOnce).
	Listing string
}
