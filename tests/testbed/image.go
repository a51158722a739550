package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The roles the fake plays; ImageSpec.Role takes one of them.
const (
	RoleFramework = "framework"
	RoleNode      = "node"
	RoleDB        = "db"
	RoleIdle      = "idle"
)

// VersionLabel is the OCI label that carries an image's version; tarsup reads
// it when the tag says nothing (tars-node's floating tags).
const VersionLabel = "org.opencontainers.image.version"

// defaultPath is the PATH the official images set.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ImageSpec describes one fake image: the equivalent of a Dockerfile
//
//	FROM scratch
//	COPY tarsfake /tarsfake
//	ENV PATH=... FAKE_VERSION=<Version> <Env...>
//	LABEL org.opencontainers.image.version=<Version> <Labels...>
//	EXPOSE <the ports of the real image for Role>
//	[HEALTHCHECK --interval=1s CMD ["/tarsfake","check","tcp","127.0.0.1:<port>"]]
//	ENTRYPOINT ["/tarsfake", "<Role>"]
type ImageSpec struct {
	Repo        string // repository path without the registry, e.g. "tarscloud/framework"
	Tag         string // e.g. "v3.0.15"
	Role        string // RoleFramework, RoleNode, RoleDB or RoleIdle
	Version     string // FAKE_VERSION and the version label
	Env         []string
	Labels      map[string]string
	Healthcheck bool
	// Created is the config's creation time; zero means the fixed
	// 2024-01-01 of every standard image. NoCreated leaves it unset (an
	// image of unknown age).
	Created   time.Time
	NoCreated bool
}

// frameworkPorts are the ports the real tarscloud/framework image EXPOSEs (TARS.md).
var frameworkPorts = []string{"3000", "17890", "17891", "12000", "19385", "18193", "18293", "18393", "18493", "18593", "18693", "18793", "18993"}

// healthPort is the port the image HEALTHCHECK connects to, per role.
var healthPort = map[string]string{RoleFramework: "17890", RoleNode: "19385", RoleDB: "3306"}

// PushImage builds the image spec describes around the fake binary at fakeBin
// and pushes it to reg. Pushing the same Repo and Tag again with another
// Version moves the tag to a new digest: that is how a test simulates a
// floating tag (tars-node's latest or stable) moving on.
func PushImage(ctx context.Context, reg *Registry, fakeBin string, spec ImageSpec) (ref, digest string, err error) {
	layer, err := fakeLayer(fakeBin)
	if err != nil {
		return "", "", fmt.Errorf("push %s:%s: %w", spec.Repo, spec.Tag, err)
	}
	return pushImage(ctx, reg, layer, spec)
}

// pushImage is PushImage with the layer made once for many images.
func pushImage(ctx context.Context, reg *Registry, layer v1.Layer, spec ImageSpec) (ref, digest string, err error) {
	ref = reg.Addr + "/" + spec.Repo + ":" + spec.Tag
	img, err := buildImage(layer, spec)
	if err != nil {
		return "", "", fmt.Errorf("build image %s: %w", ref, err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return "", "", fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return "", "", fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", "", fmt.Errorf("push %s: digest: %w", ref, err)
	}
	return ref, d.String(), nil
}

func buildImage(layer v1.Layer, spec ImageSpec) (v1.Image, error) {
	switch spec.Role {
	case RoleFramework, RoleNode, RoleDB, RoleIdle:
	default:
		return nil, fmt.Errorf("unknown role %q", spec.Role)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	// Why a fixed time: the same spec gives the same digest, so only a changed
	// spec (another Version) moves a tag.
	cf.Created = v1.Time{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	switch {
	case spec.NoCreated:
		cf.Created = v1.Time{}
	case !spec.Created.IsZero():
		cf.Created = v1.Time{Time: spec.Created.UTC()}
	}
	cf.Config = imageConfig(spec)
	return mutate.ConfigFile(img, cf)
}

func imageConfig(spec ImageSpec) v1.Config {
	c := v1.Config{
		Entrypoint: []string{"/tarsfake", spec.Role},
		Env:        append([]string{defaultPath, "FAKE_VERSION=" + spec.Version}, spec.Env...),
		Labels:     map[string]string{VersionLabel: spec.Version},
	}
	for k, v := range spec.Labels {
		c.Labels[k] = v
	}
	var ports []string
	switch spec.Role {
	case RoleFramework:
		ports = frameworkPorts
	case RoleDB:
		ports = []string{"3306", "33060"}
	case RoleIdle:
		ports = []string{"80"}
	}
	if len(ports) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for _, p := range ports {
			c.ExposedPorts[p+"/tcp"] = struct{}{}
		}
	}
	if port, ok := healthPort[spec.Role]; ok && spec.Healthcheck {
		c.Healthcheck = &v1.HealthConfig{
			Test:        []string{"CMD", "/tarsfake", "check", "tcp", "127.0.0.1:" + port},
			Interval:    time.Second,
			Timeout:     3 * time.Second,
			StartPeriod: 0,
			Retries:     3,
		}
	}
	return c
}

// fakeLayer is the single layer of every fake image: /tarsfake, and the
// directories a scratch image lacks but the fake writes to.
func fakeLayer(fakeBin string) (v1.Layer, error) {
	bin, err := os.ReadFile(fakeBin)
	if err != nil {
		return nil, fmt.Errorf("read fake binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []struct {
		name string
		mode int64
	}{{"data/", 0o755}, {"data/tars/", 0o755}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: mtime}); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "tarsfake", Mode: 0o755, Size: int64(len(bin)), ModTime: mtime}); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	layerTar := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return layer, nil
}
