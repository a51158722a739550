package plan

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/images"
)

// TestUpdateOf states the update column's rules, one container each.
func TestUpdateOf(t *testing.T) {
	fw := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true}
	fwLatest := fx{name: "tars-framework", image: "tarscloud/framework:latest", imageID: "sha256:f1", digest: fwOld, running: true}
	node := fx{name: "tars-node1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	local := fx{name: "tars-node1", image: "tarscloud/tars-node:latest", imageID: "sha256:l1", running: true}
	pinned := fx{name: "tars-node1", image: "tarscloud/tars-node@" + nodeOld, imageID: "sha256:n1", digest: nodeOld, running: true}
	pinnedTag := fx{name: "tars-node1", image: "tarscloud/tars-node:latest@" + nodeOld, imageID: "sha256:n1", digest: nodeOld, running: true}
	db := fx{name: "tars-mysql", image: "mysql:5.7", imageID: "sha256:m1", digest: fwOld, running: true}

	digests := func(fwDigest, nodeDigest string) map[string]images.DigestResult {
		return map[string]images.DigestResult{
			"tarscloud/framework:v3.0.15": ok("tarscloud/framework:v3.0.15", fwDigest),
			"tarscloud/framework:latest":  ok("tarscloud/framework:latest", fwDigest),
			"tarscloud/tars-node:latest":  ok("tarscloud/tars-node:latest", nodeDigest),
		}
	}
	tags := map[string][]string{"tarscloud/framework": {"v3.0.15", "v3.0.16", "v3.1.0-rc1", "v4.0.0", "latest"}}
	current := map[string][]string{"tarscloud/framework": {"v3.0.15", "latest"}}
	unreachable := map[string]images.DigestResult{"tarscloud/tars-node:latest": {Err: errors.New("registry docker.io unreachable for tarscloud/tars-node:latest (dial tcp: i/o timeout)\nmore")}}

	tests := []struct {
		name       string
		c          fx
		facts      UpdateFacts
		want       string
		wantDetail string
	}{
		{"a tag that did not move", node, UpdateFacts{Digests: digests(fwOld, nodeOld)}, UpdateNone, ""},
		{"a tag that moved", node, UpdateFacts{Digests: digests(fwOld, nodeNew)}, UpdateMoved, "latest: sha256:cccc… -> sha256:dddd…"},
		{"a newer release in the same major", fw, UpdateFacts{Digests: digests(fwOld, nodeOld), Tags: tags}, UpdateNewer("v3.0.16"), "v3.0.15 -> v3.0.16"},
		{"--any-major", fw, UpdateFacts{Digests: digests(fwOld, nodeOld), Tags: tags, AnyMajor: true}, UpdateNewer("v4.0.0"), "v3.0.15 -> v4.0.0"},
		{"a newer tag says more than a moved digest", fw, UpdateFacts{Digests: digests(fwNew, nodeOld), Tags: tags}, UpdateNewer("v3.0.16"), "v3.0.15 -> v3.0.16"},
		{"no newer release, digest moved", fw, UpdateFacts{Digests: digests(fwNew, nodeOld), Tags: current}, UpdateMoved, "v3.0.15: sha256:aaaa… -> sha256:bbbb…"},
		{"no newer release", fw, UpdateFacts{Digests: digests(fwOld, nodeOld), Tags: current}, UpdateNone, ""},
		{"a framework on latest: its digest only", fwLatest, UpdateFacts{Digests: digests(fwNew, nodeOld)}, UpdateMoved, "latest: sha256:aaaa… -> sha256:bbbb…"},
		{"the tag list failed", fw, UpdateFacts{Digests: digests(fwOld, nodeOld), TagErrs: map[string]error{"tarscloud/framework": errors.New("list the tags: 503")}}, UpdateUnknown, "list the tags: 503"},
		{"the tag list failed, but the digest moved", fw, UpdateFacts{Digests: digests(fwNew, nodeOld), TagErrs: map[string]error{"tarscloud/framework": errors.New("503")}}, UpdateMoved, "v3.0.15: sha256:aaaa… -> sha256:bbbb…"},
		{"the registry did not answer", node, UpdateFacts{Digests: unreachable}, UpdateUnknown, "registry docker.io unreachable for tarscloud/tars-node:latest (dial tcp: i/o timeout)"},
		{"not looked up", node, UpdateFacts{}, UpdateUnknown, "not looked up"},
		{"built or loaded locally", local, UpdateFacts{Digests: digests(fwOld, nodeNew)}, UpdateUnknown, "its image has no digest from tarscloud/tars-node (built or loaded locally?)"},
		{"pinned by digest", pinned, UpdateFacts{Digests: digests(fwOld, nodeNew)}, UpdatePinned, "runs sha256:cccc… by digest: refresh and watch leave it; tarsup upgrade --to or --node-image moves it"},
		{"pinned by tag and digest", pinnedTag, UpdateFacts{Digests: digests(fwOld, nodeNew)}, UpdatePinned, "runs sha256:cccc… by digest: refresh and watch leave it; tarsup upgrade --to or --node-image moves it"},
		{"the database has none", db, UpdateFacts{Digests: digests(fwNew, nodeNew)}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := state("h1", tt.c, fx{name: "tars-framework-x", image: "tarscloud/framework:v3.0.15", env: []string{"MYSQL_HOST=tars-mysql"}})
			var c Container
			for _, sc := range s.Containers {
				if sc.Name == tt.c.name {
					c = sc
				}
			}
			got := UpdateOf(c, tt.facts)
			if got.State != tt.want || got.Detail != tt.wantDetail {
				t.Errorf("UpdateOf = %q (%q), want %q (%q)", got.State, got.Detail, tt.want, tt.wantDetail)
			}
			if got.Available() != (tt.want == UpdateMoved || strings.HasPrefix(tt.want, "newer tag ")) {
				t.Errorf("Available() = %v for %q", got.Available(), got.State)
			}
		})
	}
}

// TestUpdateChecks: one HEAD per container's repository:tag (Digests
// dedupes them), a tag list per framework repository on a release tag;
// none for pinned containers or the database.
func TestUpdateChecks(t *testing.T) {
	s := state("h1",
		fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", env: []string{"MYSQL_HOST=tars-mysql"}},
		fx{name: "tars-framework-2", image: "tarscloud/framework:v3.0.15", env: []string{"SLAVE=true", "MYSQL_HOST=tars-mysql"}},
		fx{name: "mirror-fw", image: "reg.example.com/m/tarscloud/framework:latest"},
		fx{name: "tars-node1", image: "tarscloud/tars-node:latest"},
		fx{name: "tars-node2", image: "tarscloud/tars-node@" + nodeOld},
		fx{name: "tars-mysql", image: "mysql:5.7"},
	)
	heads, repos := UpdateChecks(s.Containers)
	var hs, rs []string
	for _, h := range heads {
		hs = append(hs, h.Key())
	}
	for _, r := range repos {
		rs = append(rs, r.Repository())
	}
	sort.Strings(hs)
	if got, want := strings.Join(hs, " "), "reg.example.com/m/tarscloud/framework:latest tarscloud/framework:v3.0.15 tarscloud/framework:v3.0.15 tarscloud/tars-node:latest"; got != want {
		t.Errorf("heads %s, want %s", got, want)
	}
	if got := strings.Join(rs, " "); got != "tarscloud/framework" {
		t.Errorf("tag lists %s, want tarscloud/framework only (the mirror runs latest)", got)
	}
}

// TestSplitPinned: the pin rule of refresh and watch: a container created
// from an image named by digest is left out of the comparison.
func TestSplitPinned(t *testing.T) {
	s := state("h1",
		fx{name: "tars-node1", image: "tarscloud/tars-node:latest"},
		fx{name: "tars-node2", image: "tarscloud/tars-node@" + nodeOld},
		fx{name: "tars-node3", image: "reg:5000/tarscloud/tars-node:stable@" + nodeOld},
	)
	rest, pinned := SplitPinned(s.Containers)
	if len(rest) != 1 || rest[0].Name != "tars-node1" || len(pinned) != 2 || pinned[0].Name != "tars-node2" || pinned[1].Name != "tars-node3" {
		t.Errorf("SplitPinned = %v, %v", rest, pinned)
	}
	check := RefreshCheck{Checked: 1, Tags: 1, Moved: []Moved{}, Pinned: pinned}
	if got, want := check.Summary(), "refresh: 1 container checked, 1 tag, nothing moved, 2 pinned by digest (left alone)"; got != want {
		t.Errorf("Summary %q, want %q", got, want)
	}
}
