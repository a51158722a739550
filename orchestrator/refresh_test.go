package orchestrator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

func TestRefreshRequest(t *testing.T) {
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true}
	web := fx{name: "tars-web", image: "tarscloud/tars-web:v3.0.15", imageID: "sha256:w1", digest: fwOld, running: true}
	node1 := fx{name: "tars-node1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	node2 := fx{name: "tars-node2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	scope, err := plan.RefreshScope([]plan.HostState{state("h1", master, web, node1), state("h2", node2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := []plan.Moved{{Host: "h2", Name: "tars-node2"}, {Host: "h1", Name: "tars-node1"}}
	tests := []struct {
		name  string
		check plan.RefreshCheck
		want  string
	}{
		{"moved nodes only", plan.RefreshCheck{Moved: moved}, `to="" only=[tars-node1 tars-node2]`},
		{"a newer framework takes every framework and web container", plan.RefreshCheck{Moved: moved[:1], NewerTag: "v3.0.16"},
			`to="v3.0.16" only=[tars-framework tars-node2 tars-web]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RefreshRequest(scope, tt.check)
			if got := fmt.Sprintf("to=%q only=%v", r.To, r.Only); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if r.FrameworkImage != "" || r.NodeImage != "" {
				t.Errorf("a refresh never names images outright: %+v", r)
			}
		})
	}
}

// fakeRegistry answers manifest HEADs and tag lists, and records every request.
type fakeRegistry struct {
	digests map[string]string   // "repo:tag" -> digest
	tags    map[string][]string // repo -> tags
	mu      sync.Mutex
	log     []string
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case r.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.HasSuffix(path, "/tags/list") && r.Method == http.MethodGet:
		repo := strings.TrimSuffix(path, "/tags/list")
		tags, found := f.tags[repo]
		if !found {
			http.Error(w, `{"errors":[{"code":"NAME_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
	case strings.Contains(path, "/manifests/") && r.Method == http.MethodHead:
		repo, tag, _ := strings.Cut(path, "/manifests/")
		d, found := f.digests[repo+":"+tag]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "unexpected request", http.StatusMethodNotAllowed)
	}
}

func (f *fakeRegistry) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func TestCheckRefreshAsksOneHEADPerTag(t *testing.T) {
	fake := &fakeRegistry{
		digests: map[string]string{"tarscloud/framework:v3.0.15": fwOld, "tarscloud/tars-node:latest": nodeNew, "tarscloud/tars-node:stable": nodeOld},
		tags:    map[string][]string{"tarscloud/framework": {"v3.0.15", "v3.0.16", "v3.1.0-rc1", "latest"}},
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")

	var cs []fx
	cs = append(cs, fx{name: "tars-framework", image: reg + "/tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true})
	for i := range 20 {
		tag := "latest"
		if i%2 == 1 {
			tag = "stable"
		}
		cs = append(cs, fx{name: fmt.Sprintf("tars-node%02d", i), image: reg + "/tarscloud/tars-node:" + tag, imageID: "sha256:n1", digest: nodeOld, running: true})
	}
	states := []plan.HostState{state("h1", cs...)}

	check, err := CheckRefresh(t.Context(), states, RefreshOptions{Registry: &images.Registry{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := check.Summary(), "refresh: 21 containers checked, 3 tags, 10 moved"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	heads := map[string]int{}
	for _, r := range fake.requests() {
		switch {
		case strings.HasPrefix(r, "HEAD ") && strings.Contains(r, "/manifests/"):
			heads[r]++
		case r == "GET /v2/":
		default:
			t.Errorf("unexpected registry request %s: a check sends manifest HEADs only", r)
		}
	}
	if len(heads) != 3 {
		t.Errorf("HEADs %v, want one per distinct tag (3)", heads)
	}
	for r, n := range heads {
		if n != 1 {
			t.Errorf("%s sent %d times, want once", r, n)
		}
	}

	check, err = CheckRefresh(t.Context(), states, RefreshOptions{Registry: &images.Registry{}, ToLatest: true})
	if err != nil {
		t.Fatal(err)
	}
	if check.NewerFrom != "v3.0.15" || check.NewerTag != "v3.0.16" {
		t.Errorf("--to-latest found %q -> %q, want v3.0.15 -> v3.0.16", check.NewerFrom, check.NewerTag)
	}
	if !strings.HasSuffix(check.Summary(), "10 moved, framework v3.0.15 -> v3.0.16") {
		t.Errorf("summary %q", check.Summary())
	}
}

func TestRefreshReportChanged(t *testing.T) {
	var p plan.Plan
	if (RefreshReport{}).Changed() || (RefreshReport{Upgrade: &UpgradeReport{Plan: p}}).Changed() {
		t.Error("an empty report changed something")
	}
	if !(RefreshReport{Recovered: []plan.Recovery{{Name: "x"}}}).Changed() {
		t.Error("a recovery is a change")
	}
	p.Phases = []plan.Phase{{Name: "nodes", Steps: []plan.Step{{Kind: plan.StepRecreate}}}}
	if !(RefreshReport{Upgrade: &UpgradeReport{Plan: p}}).Changed() {
		t.Error("a plan with a step is a change")
	}
}
