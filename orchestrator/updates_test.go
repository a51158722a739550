package orchestrator

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestCheckUpdates: the update column's look-ups across two engines are
// one manifest HEAD per repository:tag and one tag list per framework
// repository, nothing for a pinned container, and each container gets
// its state.
func TestCheckUpdates(t *testing.T) {
	fake := &fakeRegistry{
		digests: map[string]string{"tarscloud/framework:v3.0.15": fwOld, "tarscloud/tars-node:latest": nodeNew, "tarscloud/tars-node:stable": nodeOld},
		tags:    map[string][]string{"tarscloud/framework": {"v3.0.15", "v3.0.16"}},
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	h1 := state("h1",
		fx{name: "tars-framework", image: reg + "/tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true},
		fx{name: "tars-node1", image: reg + "/tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true},
		fx{name: "tars-node2", image: reg + "/tarscloud/tars-node:stable@" + nodeOld, imageID: "sha256:n1", digest: nodeOld, running: true})
	h2 := state("h2",
		fx{name: "tars-node1", image: reg + "/tarscloud/tars-node:latest", imageID: "sha256:n2", digest: nodeNew, running: true},
		fx{name: "tars-node3", image: reg + "/tarscloud/tars-node:stable", imageID: "sha256:n1", digest: nodeOld, running: true})
	cs := append(append([]plan.Container(nil), h1.Containers...), h2.Containers...)

	ups := CheckUpdates(t.Context(), &images.Registry{}, cs, false)
	var got []string
	for _, u := range ups {
		got = append(got, fmt.Sprintf("%s/%s: %s", u.Host, u.Name, u.State))
	}
	want := "h1/tars-framework: newer tag v3.0.16, h1/tars-node1: digest moved, h1/tars-node2: pinned, h2/tars-node1: none, h2/tars-node3: none"
	if strings.Join(got, ", ") != want {
		t.Errorf("updates\n%s\nwant\n%s", strings.Join(got, ", "), want)
	}
	n := map[string]int{}
	for _, r := range fake.requests() {
		n[r]++
	}
	for _, r := range []string{"HEAD /v2/tarscloud/framework/manifests/v3.0.15", "HEAD /v2/tarscloud/tars-node/manifests/latest",
		"HEAD /v2/tarscloud/tars-node/manifests/stable", "GET /v2/tarscloud/framework/tags/list"} {
		if n[r] != 1 {
			t.Errorf("%s sent %d times, want once: %v", r, n[r], fake.requests())
		}
	}
	if len(n) != 5 { // and GET /v2/
		t.Errorf("requests %v, want only the HEADs, the tag list and the ping", n)
	}

	rows := []StatusRow{{Host: "h1", Name: "tars-node1", Role: "node", ImageID: "n1"}, {Host: "h2", Name: "tars-node1", Role: "node", ImageID: "changed"},
		{Host: "h1", Name: "tars-mysql", Role: "db"}}
	ApplyUpdates(rows, ups, plan.Update{State: plan.UpdateUnknown, Detail: "missing"})
	if rows[0].Update != plan.UpdateMoved || rows[1].Update != plan.UpdateUnknown || rows[1].UpdateDetail != "missing" || rows[2].Update != "" {
		t.Errorf("ApplyUpdates: %+v", rows)
	}
}

// TestRefreshLeavesPinned: the pin rule in a refresh: a container on an
// image named by digest is not looked up, not moved, and not taken along
// by --to-latest; the check reports it.
func TestRefreshLeavesPinned(t *testing.T) {
	fake := &fakeRegistry{
		digests: map[string]string{"tarscloud/framework:v3.0.15": fwOld, "tarscloud/tars-node:latest": nodeOld, "tarscloud/tars-node:stable": nodeNew},
		tags:    map[string][]string{"tarscloud/framework": {"v3.0.15", "v3.0.16"}},
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	states := []plan.HostState{state("h1",
		fx{name: "tars-framework", image: reg + "/tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true},
		fx{name: "tars-framework-2", image: reg + "/tarscloud/framework:v3.0.15@" + fwOld, imageID: "sha256:f1", digest: fwOld, running: true, env: []string{"SLAVE=true"}},
		fx{name: "tars-node1", image: reg + "/tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true},
		fx{name: "tars-node2", image: reg + "/tarscloud/tars-node:stable@" + nodeOld, imageID: "sha256:n1", digest: nodeOld, running: true})}

	check, err := CheckRefresh(t.Context(), states, RefreshOptions{Registry: &images.Registry{}, ToLatest: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := check.Summary(), "refresh: 2 containers checked, 2 tags, framework v3.0.15 -> v3.0.16, 2 pinned by digest (left alone)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if len(check.Pinned) != 2 || check.Pinned[0].Name != "tars-framework-2" || check.Pinned[1].Name != "tars-node2" {
		t.Errorf("pinned %+v", check.Pinned)
	}
	for _, r := range fake.requests() {
		if strings.Contains(r, "/manifests/stable") {
			t.Errorf("the pinned node's tag was looked up: %s", r)
		}
	}
	scope, err := plan.RefreshScope(states, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := RefreshRequest(scope, check); fmt.Sprint(r.Only) != "[tars-framework]" {
		t.Errorf("--to-latest takes %v, want the unpinned framework only", r.Only)
	}
}

// TestEngineMirrors: the engines' registry mirrors, each once, after the
// ones given; one with a path (which tarsup cannot ask) is left out.
func TestEngineMirrors(t *testing.T) {
	a, b := newFakeEngine(t), newFakeEngine(t)
	a.mirrors = []string{"https://mirror.example.com/", "http://10.0.0.9:5000"}
	b.mirrors = []string{"http://10.0.0.9:5000/", "https://registry-2.docker.io/v1/"}
	hosts := []*engine.Host{{Spec: engine.HostSpec{URL: "a"}, Engine: a}, {Spec: engine.HostSpec{URL: "b"}, Engine: b}}
	reg := &images.Registry{Mirrors: []string{"https://mirror.example.com", "https://given.example.com"}}
	WithEngineMirrors(t.Context(), reg, hosts, nil)
	if got, want := strings.Join(reg.Mirrors, " "), "https://mirror.example.com https://given.example.com http://10.0.0.9:5000"; got != want {
		t.Errorf("mirrors %s, want %s", got, want)
	}
}
