package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tarsup/tarsup/tests/testbed"
)

// standInNote is on every stand-in image (its description label), so that
// `docker inspect` says what it is too.
const standInNote = "STAND-IN built from tarsup's test fakes (tests/fake/tarsfake), not a real tarscloud image"

// The versions of the story: the lab runs the first, the release is the next.
const (
	fromVersion = "v3.0.15"
	toVersion   = "v3.0.16"
	brokenTag   = toVersion + "-neverhealthy"
)

// standIns are the stand-in images in the demo's registry, by full reference.
type standIns struct {
	reg     *testbed.Registry
	fakeBin string

	FrameworkRepo string // registry/tarsup-demo/tarscloud/framework, for --to
	From, To      string // framework fromVersion and toVersion
	Broken        string // framework brokenTag: FAKE_NEVER_HEALTHY=true
	Node          string // tars-node:latest (floats: pushed again to move it)
	DB            string // the database: the bed's MariaDB, or the fake's stand-in
	MariaDB       bool   // DB is the real MariaDB image
}

// pushStandIns builds the framework images and tars-node:latest at
// fromVersion around fakeBin and pushes them to reg.
func pushStandIns(ctx context.Context, reg *testbed.Registry, fakeBin string) (*standIns, error) {
	s := &standIns{reg: reg, fakeBin: fakeBin, FrameworkRepo: reg.Addr + "/" + repoPrefix + testbed.FrameworkRepo}
	fw := func(tag, version string, env ...string) testbed.ImageSpec {
		return testbed.ImageSpec{Repo: repoPrefix + testbed.FrameworkRepo, Tag: tag, Role: testbed.RoleFramework, Version: version, Env: env}
	}
	for _, p := range []struct {
		ref  *string
		spec testbed.ImageSpec
	}{
		{&s.From, fw(fromVersion, fromVersion)},
		{&s.To, fw(toVersion, toVersion)},
		{&s.Broken, fw(brokenTag, toVersion, "FAKE_NEVER_HEALTHY=true")},
		{&s.Node, nodeSpec(fromVersion, "1")},
	} {
		ref, err := s.push(ctx, p.spec)
		if err != nil {
			return nil, err
		}
		*p.ref = ref
	}
	return s, nil
}

// nodeSpec is tars-node:latest at version, build number build (a rebuild
// of the same version is another digest behind the same tag).
func nodeSpec(version, build string) testbed.ImageSpec {
	return testbed.ImageSpec{Repo: repoPrefix + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: version,
		Labels: map[string]string{buildLabel: build}}
}

// buildLabel numbers the builds of a node image.
const buildLabel = "org.opencontainers.image.revision"

// push pushes one stand-in, labelled as the lab's and as a stand-in.
func (s *standIns) push(ctx context.Context, spec testbed.ImageSpec) (string, error) {
	labels := map[string]string{Label: LabelValue, "org.opencontainers.image.description": standInNote}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	spec.Labels = labels
	ref, _, err := testbed.PushImage(ctx, s.reg, s.fakeBin, spec)
	if err != nil {
		return "", fmt.Errorf("push the stand-in %s:%s: %w", spec.Repo, spec.Tag, err)
	}
	return ref, nil
}

// moveNode pushes tars-node:latest again at version, build build: the tag
// moves to a new digest, as when TarsCloud publishes a node.
func (s *standIns) moveNode(ctx context.Context, version, build string) error {
	_, err := s.push(ctx, nodeSpec(version, build))
	return err
}

// database picks the lab's database: the test bed's real MariaDB image when
// it can be had (cached, or built once from the machine's Debian packages),
// else the fake's stand-in (it only accepts connections), saying why.
func (s *standIns) database(ctx context.Context, out io.Writer, e *testbed.Engine) error {
	fmt.Fprintf(out, "database: the test bed's MariaDB image (Debian's MariaDB 10.11 packages; built once into %s, about 45 s, then cached)\n", testbed.MariaDBCacheDir())
	ref, err := testbed.EnsureMariaDB(ctx, e, testbed.MariaDBCacheDir())
	if err == nil {
		s.DB, s.MariaDB = ref, true
		fmt.Fprintf(out, "database: %s, a real MariaDB\n", ref)
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("the MariaDB image: %w", ctx.Err())
	}
	fmt.Fprintf(out, "database: no MariaDB image (%v): using the fake's database STAND-IN, which only accepts connections\n", err)
	s.DB, err = s.push(ctx, testbed.ImageSpec{Repo: repoPrefix + testbed.MySQLRepo, Tag: "5.7", Role: testbed.RoleDB, Version: "5.7.44"})
	return err
}
