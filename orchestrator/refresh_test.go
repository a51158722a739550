package orchestrator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// movedLines renders a check for comparison as a string.
func movedLines(c RefreshCheck) string {
	var b strings.Builder
	b.WriteString(c.Summary() + "\n")
	for _, m := range c.Moved {
		b.WriteString(m.Line(true) + "\n")
	}
	for _, u := range c.Unchecked {
		fmt.Fprintf(&b, "unchecked %s: %s\n", u.Name, u.Reason)
	}
	return b.String()
}

func ok(ref, digest string) images.DigestResult {
	r, err := images.Parse(ref)
	if err != nil {
		panic(err)
	}
	return images.DigestResult{Ref: r, Digest: digest}
}

func TestCompareDigests(t *testing.T) {
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
		env: []string{"MYSQL_HOST=tars-mysql"}}
	node1 := fx{name: "tars-node1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	node2 := fx{name: "tars-node2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	stable := fx{name: "tars-node3", image: "tarscloud/tars-node:stable", imageID: "sha256:n3", digest: nodeOld, running: true}
	pulledAlready := fx{name: "tars-node4", image: "tarscloud/tars-node:latest", imageID: "sha256:n2", digest: nodeNew, running: true}
	local := fx{name: "tars-node-local", image: "tarscloud/tars-node:latest", imageID: "sha256:l1", running: true}
	db := fx{name: "tars-mysql", image: "mysql:5.7", imageID: "sha256:m1", digest: fwOld, running: true}
	aside := fx{name: "tars-node1.tarsup-old", image: "tarscloud/tars-node:latest", imageID: "sha256:n0", digest: nodeOld}

	none := map[string]images.DigestResult{
		"tarscloud/framework:v3.0.15": ok("tarscloud/framework:v3.0.15", fwOld),
		"tarscloud/tars-node:latest":  ok("tarscloud/tars-node:latest", nodeOld),
		"tarscloud/tars-node:stable":  ok("tarscloud/tars-node:stable", nodeOld),
	}
	latestMoved := map[string]images.DigestResult{
		"tarscloud/framework:v3.0.15": ok("tarscloud/framework:v3.0.15", fwOld),
		"tarscloud/tars-node:latest":  ok("tarscloud/tars-node:latest", nodeNew),
		"tarscloud/tars-node:stable":  ok("tarscloud/tars-node:stable", nodeOld),
	}

	tests := []struct {
		name    string
		states  []plan.HostState
		only    []string
		digests map[string]images.DigestResult
		want    string
		wantErr error
		errText string
	}{
		{
			name:    "nothing moved: one line, the db and containers set aside are not checked",
			states:  []plan.HostState{state("h1", master, node1, node2, stable, db, aside)},
			digests: none,
			want:    "refresh: 4 containers checked, 3 tags, nothing moved\n",
		},
		{
			name:    "a floating tag moved: just its containers, not one that already runs the new digest",
			states:  []plan.HostState{state("h1", master, node1, node2, stable, pulledAlready)},
			digests: latestMoved,
			want: "refresh: 5 containers checked, 3 tags, 2 moved\n" +
				"h1 tars-node1: latest moved sha256:cccc… -> sha256:dddd…\n" +
				"h1 tars-node2: latest moved sha256:cccc… -> sha256:dddd…\n",
		},
		{
			name:    "across hosts",
			states:  []plan.HostState{state("h1", master, node1), state("h2", node2)},
			digests: latestMoved,
			want: "refresh: 3 containers checked, 2 tags, 2 moved\n" +
				"h1 tars-node1: latest moved sha256:cccc… -> sha256:dddd…\n" +
				"h2 tars-node2: latest moved sha256:cccc… -> sha256:dddd…\n",
		},
		{
			name:    "--only limits the check",
			states:  []plan.HostState{state("h1", master, node1, node2)},
			only:    []string{"tars-node2"},
			digests: latestMoved,
			want: "refresh: 1 container checked, 1 tag, 1 moved\n" +
				"h1 tars-node2: latest moved sha256:cccc… -> sha256:dddd…\n",
		},
		{
			name:    "an image without a digest from its repository is left alone",
			states:  []plan.HostState{state("h1", node1, local)},
			digests: latestMoved,
			want: "refresh: 1 container checked, 1 tag, 1 moved, 1 not comparable (left alone)\n" +
				"h1 tars-node1: latest moved sha256:cccc… -> sha256:dddd…\n" +
				"unchecked tars-node-local: its image has no digest from tarscloud/tars-node (built or loaded locally?); use tarsup upgrade to move it\n",
		},
		{
			name:   "a failed look-up fails the check and names the tag",
			states: []plan.HostState{state("h1", node1, stable)},
			digests: map[string]images.DigestResult{
				"tarscloud/tars-node:latest": ok("tarscloud/tars-node:latest", nodeNew),
				"tarscloud/tars-node:stable": {Err: fmt.Errorf("tag stable not found: %w", fault.NotFound)},
			},
			wantErr: fault.NotFound,
			errText: "look up tarscloud/tars-node:stable: tag stable not found",
		},
		{
			name:    "--only naming the db is refused",
			states:  []plan.HostState{state("h1", master, db)},
			only:    []string{"tars-mysql"},
			digests: none,
			wantErr: fault.Refused,
			errText: "database",
		},
		{
			name:    "--only naming nothing known",
			states:  []plan.HostState{state("h1", master)},
			only:    []string{"nope"},
			digests: none,
			wantErr: fault.BadInput,
			errText: "--only nope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope, err := RefreshScope(tt.states, tt.only)
			var check RefreshCheck
			if err == nil {
				check, err = CompareDigests(scope, tt.digests)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || fault.ExitCode(err) != fault.ExitCode(tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.errText) {
					t.Fatalf("error %v, want %v containing %q", err, tt.wantErr, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := movedLines(check); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestNewestFramework(t *testing.T) {
	fw := func(name, image string) fx {
		return fx{name: name, image: image, imageID: "sha256:" + name, digest: fwOld, running: true}
	}
	node := fx{name: "tars-node", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld}
	tags := []string{"latest", "v3.0.14", "v3.0.15", "v3.0.16", "v3.0.17-rc1", "v3.0.16-hc1", "v3.1.0", "v4.0.0", "stable"}
	tests := []struct {
		name     string
		states   []plan.HostState
		tags     map[string][]string
		anyMajor bool
		want     string
		errText  string
	}{
		{
			name:   "newest release of the same major; pre-releases and aliases ignored",
			states: []plan.HostState{state("h1", fw("tars-framework", "tarscloud/framework:v3.0.15"), node)},
			tags:   map[string][]string{"tarscloud/framework": tags},
			want:   "v3.0.15 -> v3.1.0",
		},
		{
			name:     "another major when allowed",
			states:   []plan.HostState{state("h1", fw("tars-framework", "tarscloud/framework:v3.0.15"))},
			tags:     map[string][]string{"tarscloud/framework": tags},
			anyMajor: true,
			want:     "v3.0.15 -> v4.0.0",
		},
		{
			name:   "already the newest",
			states: []plan.HostState{state("h1", fw("tars-framework", "tarscloud/framework:v3.1.0"))},
			tags:   map[string][]string{"tarscloud/framework": tags},
			want:   " -> ",
		},
		{
			name:   "a framework on latest has no version to compare",
			states: []plan.HostState{state("h1", fw("tars-framework", "tarscloud/framework:latest"))},
			tags:   map[string][]string{"tarscloud/framework": tags},
			want:   " -> ",
		},
		{
			name: "the newest version run counts, and the target must be in every repository",
			states: []plan.HostState{
				state("h1", fw("tars-framework", "tarscloud/framework:v3.0.15")),
				state("h2", fw("tars-framework-2", "reg.example.com/mirror/tarscloud/framework:v3.0.16")),
			},
			tags: map[string][]string{
				"tarscloud/framework":                        tags,
				"reg.example.com/mirror/tarscloud/framework": {"v3.0.15", "v3.0.16"},
			},
			errText: "reg.example.com/mirror/tarscloud/framework has no tag v3.1.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope, err := RefreshScope(tt.states, nil)
			if err != nil {
				t.Fatal(err)
			}
			tag, from, err := NewestFramework(scope, tt.tags, tt.anyMajor)
			if tt.errText != "" {
				if !errors.Is(err, fault.BadInput) || !strings.Contains(fmt.Sprint(err), tt.errText) {
					t.Fatalf("error %v, want fault.BadInput containing %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := from + " -> " + tag; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRefreshRequest(t *testing.T) {
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true}
	web := fx{name: "tars-web", image: "tarscloud/tars-web:v3.0.15", imageID: "sha256:w1", digest: fwOld, running: true}
	node1 := fx{name: "tars-node1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	node2 := fx{name: "tars-node2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	scope, err := RefreshScope([]plan.HostState{state("h1", master, web, node1), state("h2", node2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := []Moved{{Host: "h2", Name: "tars-node2"}, {Host: "h1", Name: "tars-node1"}}
	tests := []struct {
		name  string
		check RefreshCheck
		want  string
	}{
		{"moved nodes only", RefreshCheck{Moved: moved}, `to="" only=[tars-node1 tars-node2]`},
		{"a newer framework takes every framework and web container", RefreshCheck{Moved: moved[:1], NewerTag: "v3.0.16"},
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
