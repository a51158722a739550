package images

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushCreated writes an image created at created for platform to
// host/repo:tag and returns its digest.
func pushCreated(t *testing.T, host, repo, tag string, created time.Time, arch string) (v1.Image, string) {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return img, d.String()
}

// TestCreated: the creation time comes from the config blob (never a
// layer), once per repository:tag, at the digest a tag was found at; a
// multi-platform index gives its platform's image; a failure is reported
// in its result.
func TestCreated(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", nil)
	h := rc.host
	when := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	_, d1 := pushCreated(t, h, "tarscloud/tars-node", "latest", when, "amd64")
	// The tag moves on after the HEAD: the digest asked for still answers.
	pushCreated(t, h, "tarscloud/tars-node", "latest", when.Add(time.Hour), "amd64")

	amd, _ := pushCreated(t, h, "tarscloud/framework", "amd-only", when.Add(-time.Hour), "amd64")
	arm, _ := pushCreated(t, h, "tarscloud/framework", "arm-only", when.Add(-2*time.Hour), "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	idxRef, err := name.ParseReference(h+"/tarscloud/framework:v3.0.16", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(idxRef, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	rc.reset()

	reg := &Registry{Keychain: anonymous}
	got := reg.Created(t.Context(), []CreatedQuery{
		{Ref: mustParse(t, h+"/tarscloud/tars-node:latest"), Digest: d1},
		{Ref: mustParse(t, h+"/tarscloud/tars-node:latest"), Digest: d1},
		{Ref: mustParse(t, h+"/tarscloud/framework:v3.0.16"), Platform: "linux/arm64"},
		{Ref: mustParse(t, h+"/tarscloud/framework:v3.0.16"), Platform: "linux/amd64"},
		{Ref: mustParse(t, h+"/tarscloud/framework:nosuch")},
	})
	// The two platforms of one tag are two images of two ages: each is
	// judged by its own.
	if r := got[h+"/tarscloud/framework:v3.0.16 linux/amd64"]; r.Err != nil || !r.Created.Equal(when.Add(-time.Hour)) {
		t.Errorf("framework:v3.0.16 for linux/amd64: %v %v, want the amd64 image's %s", r.Created, r.Err, when.Add(-time.Hour))
	}
	if r := got[h+"/tarscloud/tars-node:latest"]; r.Err != nil || !r.Created.Equal(when) {
		t.Errorf("tars-node:latest at %s: %v %v, want %s", d1, r.Created, r.Err, when)
	}
	if r := got[h+"/tarscloud/framework:v3.0.16 linux/arm64"]; r.Err != nil || !r.Created.Equal(when.Add(-2*time.Hour)) {
		t.Errorf("framework:v3.0.16 for linux/arm64: %v %v, want the arm64 image's %s", r.Created, r.Err, when.Add(-2*time.Hour))
	}
	if r := got[h+"/tarscloud/framework:nosuch"]; r.Err == nil || !strings.Contains(r.Err.Error(), "not found") {
		t.Errorf("a missing tag: %v %v, want a not-found error", r.Created, r.Err)
	}
	manifests := 0
	for _, r := range rc.requests() {
		switch {
		case strings.Contains(r, "/manifests/"):
			manifests++
		case strings.Contains(r, "/blobs/") && strings.HasPrefix(r, "GET "):
		case r == "GET /v2/":
		default:
			t.Errorf("unexpected request %s", r)
		}
	}
	// tars-node once (by digest), the index and its arm64 image, the index
	// and its amd64 image, nosuch.
	if manifests != 6 {
		t.Errorf("%d manifest requests, want 6 (one per distinct repository:tag and platform, plus the index's child):\n%s", manifests, strings.Join(rc.requests(), "\n"))
	}
	blobs := 0
	for _, r := range rc.requests() {
		if strings.Contains(r, "/blobs/") {
			blobs++
		}
	}
	if blobs != 3 {
		t.Errorf("%d blob requests, want 3 (the three configs, no layer):\n%s", blobs, strings.Join(rc.requests(), "\n"))
	}
}

func TestParseCreated(t *testing.T) {
	for _, tc := range []struct {
		config, want, err string
	}{
		{`{"created":"2026-01-02T10:00:00.123456789Z"}`, "2026-01-02T10:00:00.123456789Z", ""},
		{`{"created":"2026-01-02T18:00:00+08:00"}`, "2026-01-02T10:00:00Z", ""},
		{`{"architecture":"amd64"}`, "0001-01-01T00:00:00Z", ""},
		{`{"created":""}`, "0001-01-01T00:00:00Z", ""},
		{`{"created":"yesterday"}`, "", `created "yesterday" is not an RFC 3339 time`},
		{`{"created":1700000000}`, "", "does not parse"},
		{`not json`, "", "does not parse"},
	} {
		got, err := ParseCreated([]byte(tc.config))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseCreated(%s) = %v, %v; want an error containing %q", tc.config, got, err, tc.err)
		case tc.err == "" && (err != nil || got.UTC().Format(time.RFC3339Nano) != tc.want):
			t.Errorf("ParseCreated(%s) = %v, %v; want %s", tc.config, got, err, tc.want)
		}
	}
}
