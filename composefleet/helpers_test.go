package composefleet

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// tarsFile is a compose project "NAME" on engine HOST: a framework, a node
// and their database, under fixed container names.
const tarsFile = `name: NAME
x-tarsup:
  host: HOST
services:
  mysql:
    image: mysql:5.6
    container_name: NAME-mysql
    restart: always
  framework:
    image: tarscloud/framework:v3.0.15 # pinned by ops
    container_name: NAME-framework
    restart: always
    environment:
      MYSQL_HOST: NAME-mysql
      REBUILD: "false"
  node:
    image: tarscloud/tars-node:latest
    container_name: NAME-node
    restart: always
    environment:
      WEB_HOST: http://NAME-framework:3000
`

// writeProject writes tarsFile for project name on host into a new
// directory and returns its compose file.
func writeProject(t *testing.T, name, host string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	body := strings.NewReplacer("NAME", name, "HOST", host).Replace(tarsFile)
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// loadFleet loads the compose files as one fleet.
func loadFleet(t *testing.T, files ...string) *Fleet {
	t.Helper()
	var opts []compose.Options
	for _, f := range files {
		opts = append(opts, compose.Options{Files: []string{f}})
	}
	projects, err := compose.LoadMany(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFleet(projects, Engines{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ctr is a container of service svc of project on host, as observed.
func ctr(host, project, svc, name, image string) plan.Container {
	return plan.Container{Host: host, Name: name, Image: image, State: "running", Running: true, Labels: map[string]string{
		compose.LabelProject: project, compose.LabelService: svc, compose.LabelOneoff: "False",
	}}
}

// states groups containers into each host's observed state, hosts sorted.
func states(cs ...plan.Container) []plan.HostState {
	by := map[string][]plan.Container{}
	for _, c := range cs {
		by[c.Host] = append(by[c.Host], c)
	}
	var hosts []string
	for h := range by {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var out []plan.HostState
	for _, h := range hosts {
		out = append(out, plan.HostState{Host: h, Containers: by[h]})
	}
	return out
}

// deployed is project name's three containers on host, running what its
// file names.
func deployed(host, name string) []plan.Container {
	return []plan.Container{
		ctr(host, name, "mysql", name+"-mysql", "mysql:5.6"),
		ctr(host, name, "framework", name+"-framework", "tarscloud/framework:v3.0.15"),
		ctr(host, name, "node", name+"-node", "tarscloud/tars-node:latest"),
	}
}

// planOf is a plan that recreates steps (one phase; the phases do not
// matter to this package).
func planOf(steps ...plan.Step) plan.Plan {
	return plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: steps}}}
}

func step(host, name string) plan.Step {
	return plan.Step{Host: host, Kind: plan.StepRecreate, Container: plan.Container{Host: host, Name: name}}
}

func result(host, name, res string) orchestrator.StepResult {
	return orchestrator.StepResult{Step: step(host, name), Result: res}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
