package testbed

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The repositories of the standard images, without the registry part.
const (
	FrameworkRepo = "tarscloud/framework"
	NodeRepo      = "tarscloud/tars-node"
	MySQLRepo     = "library/mysql"
	NginxRepo     = "library/nginx"
)

// Images is the standard set of fake images every e2e test can use, pushed to
// one registry. Each field is a full reference (registry/repo:tag).
type Images struct {
	// FrameworkRepo and NodeRepo are registry/repo without a tag, for tests
	// that name a tag of their own (tarsup upgrade --to TAG).
	FrameworkRepo, NodeRepo string

	Framework3015         string // v3.0.15
	Framework3016         string // v3.0.16
	FrameworkSlow         string // v3.0.16-slow: FAKE_START_DELAY=3s
	FrameworkNeverHealthy string // v3.0.16-neverhealthy: never listens
	FrameworkCrash        string // v3.0.16-crash: exits 1 two seconds after listening
	FrameworkRebuild      string // v3.0.16-rebuild: the image itself sets REBUILD=true
	FrameworkHC           string // v3.0.16-hc: with an image HEALTHCHECK
	NodeLatest            string // tars-node:latest (version v3.0.15 until moved)
	NodeStable            string // tars-node:stable (version v3.0.15 until moved)
	MySQL                 string // library/mysql:5.7, the db role
	Nginx                 string // library/nginx:latest, an unrelated container

	reg   *Registry
	layer v1.Layer

	mu      sync.Mutex
	digests map[string]string
}

// PushStandardImages builds the standard images around the fake binary at
// fakeBin and pushes them to reg.
func PushStandardImages(ctx context.Context, reg *Registry, fakeBin string) (*Images, error) {
	layer, err := fakeLayer(fakeBin)
	if err != nil {
		return nil, fmt.Errorf("push standard images: %w", err)
	}
	im := &Images{
		FrameworkRepo: reg.Addr + "/" + FrameworkRepo,
		NodeRepo:      reg.Addr + "/" + NodeRepo,
		reg:           reg,
		layer:         layer,
		digests:       map[string]string{},
	}
	fw := func(tag, version string, env ...string) ImageSpec {
		return ImageSpec{Repo: FrameworkRepo, Tag: tag, Role: RoleFramework, Version: version, Env: env}
	}
	hc := fw("v3.0.16-hc", "v3.0.16")
	hc.Healthcheck = true
	for _, p := range []struct {
		field *string
		spec  ImageSpec
	}{
		{&im.Framework3015, fw("v3.0.15", "v3.0.15")},
		{&im.Framework3016, fw("v3.0.16", "v3.0.16")},
		{&im.FrameworkSlow, fw("v3.0.16-slow", "v3.0.16", "FAKE_START_DELAY=3s")},
		{&im.FrameworkNeverHealthy, fw("v3.0.16-neverhealthy", "v3.0.16", "FAKE_NEVER_HEALTHY=true")},
		{&im.FrameworkCrash, fw("v3.0.16-crash", "v3.0.16", "FAKE_CRASH_AFTER=2s")},
		{&im.FrameworkRebuild, fw("v3.0.16-rebuild", "v3.0.16", "REBUILD=true")},
		{&im.FrameworkHC, hc},
		{&im.NodeLatest, ImageSpec{Repo: NodeRepo, Tag: "latest", Role: RoleNode, Version: "v3.0.15"}},
		{&im.NodeStable, ImageSpec{Repo: NodeRepo, Tag: "stable", Role: RoleNode, Version: "v3.0.15"}},
		{&im.MySQL, ImageSpec{Repo: MySQLRepo, Tag: "5.7", Role: RoleDB, Version: "5.7.44"}},
		{&im.Nginx, ImageSpec{Repo: NginxRepo, Tag: "latest", Role: RoleIdle, Version: "1.27.0"}},
	} {
		ref, _, err := im.Push(ctx, p.spec)
		if err != nil {
			return nil, fmt.Errorf("push standard images: %w", err)
		}
		*p.field = ref
	}
	return im, nil
}

// Push builds and pushes one more image with the standard layer, for example
// ImageSpec{Repo: NodeRepo, Tag: "latest", Role: RoleNode, Version: "v3.0.16"}
// to move tars-node:latest to a new digest. The field holding that tag's
// reference stays valid: references name tags, not digests.
func (im *Images) Push(ctx context.Context, spec ImageSpec) (ref, digest string, err error) {
	ref, digest, err = pushImage(ctx, im.reg, im.layer, spec)
	if err != nil {
		return "", "", err
	}
	im.mu.Lock()
	im.digests[ref] = digest
	im.mu.Unlock()
	return ref, digest, nil
}

// Digest returns the manifest digest (sha256:...) that ref, a reference
// pushed through these Images, points at now; "" for an unknown reference.
func (im *Images) Digest(ref string) string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.digests[ref]
}
