package compose

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// v2Hashes are what Compose v2.40.3 printed for testdata/confighash, run as
//
//	docker-compose -f compose.yaml --profile nodes config --hash='*'
//
// in that directory, with the binary tests/testbed.ComposeV2 builds.
var v2Hashes = map[string]string{
	"framework": "0a2e942a5838f7479dbdad7e4c6abbd24a2a3b87aac60ddd55f14bc6df0b109a",
	"mysql":     "f59d8021d30841544bd2e5fa203a9ba81d4872ed79ad87f9a4eceee4d966d904",
	"node":      "d8bf523d70232635ebbde067cc7cc24ba45dd209636f3d3055fc67cff531b7db",
}

func loadHashFixture(t *testing.T) *Project {
	t.Helper()
	p, err := Load(t.Context(), Options{Files: []string{"testdata/confighash/compose.yaml"}, Profiles: []string{"nodes"}, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServiceHash checks the in-process hash against the one Compose v2.40.3
// itself printed: ports, env_file (required and not), short and long binds,
// a named volume, a healthcheck, depends_on, deploy.replicas and profiles.
func TestServiceHash(t *testing.T) {
	p := loadHashFixture(t)
	for name, want := range v2Hashes {
		t.Run(name, func(t *testing.T) {
			sc, ok := p.Compose.Services[name]
			if !ok {
				t.Fatalf("no service %s", name)
			}
			replicas := sc.Deploy
			got, err := ServiceHash(sc)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("ServiceHash = %s, Compose v2.40.3 printed %s", got, want)
			}
			if replicas != nil && replicas.Replicas == nil {
				t.Errorf("ServiceHash cleared the caller's deploy.replicas")
			}
		})
	}
	// A change that matters changes the hash.
	sc := p.Compose.Services["framework"]
	sc.Image = "tarscloud/framework:v3.0.17"
	if got, _ := ServiceHash(sc); got == v2Hashes["framework"] {
		t.Errorf("the hash does not depend on the image")
	}
}

// fakeCompose answers the Hasher's runs: "version --short" with version
// (an error when version is ""), "config --hash=*" with hashes; it records
// every run.
type fakeCompose struct {
	versions map[string]string // "docker compose" or "docker-compose" -> version
	hashes   string
	runs     []string
	env      [][]string
}

func (f *fakeCompose) run(_ context.Context, env []string, dir, name string, args ...string) ([]byte, error) {
	cmd := strings.Join(append([]string{name}, args...), " ")
	f.runs = append(f.runs, cmd)
	f.env = append(f.env, env)
	bin := name
	if name == "docker" && len(args) > 0 && args[0] == "compose" {
		bin = "docker compose"
	}
	if strings.HasSuffix(cmd, "version --short") {
		if v := f.versions[bin]; v != "" {
			return []byte(v + "\n"), nil
		}
		return nil, errors.New("exec: not found")
	}
	if strings.HasSuffix(cmd, "config --hash=*") {
		return []byte(f.hashes), nil
	}
	return nil, errors.New("unexpected run " + cmd)
}

// TestHasherLabels checks which Compose computes the hash (the one that
// created the container, else Compose v2's rule in process) and which labels
// the new container gets.
func TestHasherLabels(t *testing.T) {
	p := loadHashFixture(t)
	u := &Upgrade{Project: p, Host: "h1"}
	labels := func(version string, extra ...string) map[string]string {
		l := map[string]string{LabelProject: p.Name, LabelService: "framework", LabelConfigHash: "old"}
		if version != "" {
			l[LabelVersion] = version
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	const newID = "sha256:f2"
	tests := []struct {
		name     string
		versions map[string]string
		labels   map[string]string
		dryRun   bool
		want     map[string]string
		wantBy   string
		exact    bool
		wantRun  string
	}{
		{
			name:     "v1 container, docker-compose 1.x: its hash, no image label",
			versions: map[string]string{"docker-compose": "1.29.2"},
			labels:   labels("1.29.2"),
			want:     map[string]string{LabelConfigHash: "v1hash"},
			wantBy:   "docker-compose 1.29.2", exact: true,
			wantRun: "docker-compose -p tarsdocs -f " + p.Files[0] + " --project-directory " + p.WorkingDir + " --profile nodes config --hash=*",
		},
		{
			name:     "v2 container, docker compose plugin: its hash and the new image ID",
			versions: map[string]string{"docker compose": "2.40.3", "docker-compose": "1.29.2"},
			labels:   labels("2.40.3", LabelImage, "sha256:f1"),
			want:     map[string]string{LabelConfigHash: "v1hash", LabelImage: newID},
			wantBy:   "docker compose 2.40.3", exact: true,
			wantRun: "docker compose -p tarsdocs",
		},
		{
			name:     "v2 container, docker-compose that reports v2",
			versions: map[string]string{"docker-compose": "v2.40.3"},
			labels:   labels("2.40.3", LabelImage, "sha256:f1"),
			want:     map[string]string{LabelConfigHash: "v1hash", LabelImage: newID},
			wantBy:   "docker-compose 2.40.3", exact: true,
		},
		{
			name:     "v2 container, only docker-compose 1.x: Compose v2's rule in process",
			versions: map[string]string{"docker-compose": "1.29.2"},
			labels:   labels("2.40.3", LabelImage, "sha256:f1"),
			want:     map[string]string{LabelConfigHash: v2Hashes["framework"], LabelImage: newID},
			wantBy:   RuleV2,
		},
		{
			name:   "v1 container, no compose at all: Compose v2's rule, image label added",
			labels: labels("1.29.2"),
			want:   map[string]string{LabelConfigHash: v2Hashes["framework"], LabelImage: newID},
			wantBy: RuleV2,
		},
		{
			name:     "dry run: nothing computed, the labels say what will set them",
			versions: map[string]string{"docker-compose": "1.29.2"},
			labels:   labels("1.29.2"),
			dryRun:   true,
			want:     map[string]string{LabelConfigHash: "(docker-compose 1.29.2 computes it once the files are written)"},
			wantBy:   "docker-compose 1.29.2", exact: true,
		},
		{
			name:   "a container of another project: no labels",
			labels: map[string]string{LabelProject: "other", LabelService: "framework"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCompose{versions: tt.versions, hashes: "framework v1hash\nnode v1node\n"}
			h := &Hasher{Upgrades: []*Upgrade{u}, DryRun: tt.dryRun, Run: f.run,
				EngineEnv: map[string][]string{"h1": EngineEnv("tcp://10.0.0.5:2376", nil, false)}}
			id := newID
			if tt.dryRun {
				id = ""
			}
			got, err := h.Labels(t.Context(), "h1", "tars-framework", tt.labels, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("labels %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q", k, got[k], v)
				}
			}
			reps := h.Reports()
			if tt.want == nil {
				if len(reps) != 0 {
					t.Errorf("reports %+v for a container of no project", reps)
				}
				return
			}
			if len(reps) != 1 || reps[0].By != tt.wantBy || reps[0].Exact != tt.exact || reps[0].Container != "tars-framework" || reps[0].Service != "framework" {
				t.Fatalf("reports %+v, want one by %q, exact %t", reps, tt.wantBy, tt.exact)
			}
			if !tt.exact && !strings.Contains(reps[0].Note, "may still recreate") {
				t.Errorf("note %q does not warn that another Compose may recreate", reps[0].Note)
			}
			if tt.wantRun != "" && !slicesContainsPrefix(f.runs, tt.wantRun) {
				t.Errorf("runs %q, want one starting %q", f.runs, tt.wantRun)
			}
			for _, env := range f.env {
				if !slicesContainsPrefix(env, "DOCKER_HOST=tcp://10.0.0.5:2376") {
					t.Errorf("a compose run without the project's engine: %q", env)
				}
			}
			// Asked once per project: a second container reuses the answer.
			n := len(f.runs)
			if _, err := h.Labels(t.Context(), "h1", "tars-framework-2", tt.labels, id); err != nil {
				t.Fatal(err)
			}
			if len(f.runs) != n {
				t.Errorf("compose was asked again: %q", f.runs[n:])
			}
		})
	}
}

func slicesContainsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestEngineEnv(t *testing.T) {
	tests := []struct {
		name string
		tls  *TLSFiles
		want string
	}{
		{"no TLS", nil, "DOCKER_HOST=tcp://h:2376 DOCKER_CONTEXT= DOCKER_TLS_VERIFY= DOCKER_CERT_PATH="},
		{"compose's file names", &TLSFiles{CA: "/c/ca.pem", Cert: "/c/cert.pem", Key: "/c/key.pem"}, "DOCKER_HOST=tcp://h:2376 DOCKER_CONTEXT= REQUESTS_CA_BUNDLE= CURL_CA_BUNDLE= DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=/c"},
		{"other names: no cert path", &TLSFiles{CA: "/c/ca.crt", Cert: "/c/cert.pem", Key: "/c/key.pem"}, "DOCKER_HOST=tcp://h:2376 DOCKER_CONTEXT= REQUESTS_CA_BUNDLE= CURL_CA_BUNDLE= DOCKER_TLS_VERIFY=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(EngineEnv("tcp://h:2376", tt.tls, true), " "); got != tt.want {
				t.Errorf("EngineEnv = %q, want %q", got, tt.want)
			}
		})
	}
}
