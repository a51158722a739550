package composefleet

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

func TestStatusJoin(t *testing.T) {
	const h1, h2 = "tcp://127.0.0.1:2375", "tcp://127.0.0.2:2375"
	f := loadFleet(t, writeProject(t, "a", h1), writeProject(t, "b", h2))
	running := []plan.Container{
		ctr(h1, "a", "mysql", "a-mysql", "mysql:5.6"),
		ctr(h1, "a", "framework", "a-framework", "tarscloud/framework:v3.0.16"),
		// Why left out: a swap's temporary container is not the service's.
		ctr(h1, "a", "framework", "a-framework.tarsup-old", "tarscloud/framework:v3.0.15"),
		ctr(h1, "a", "node", "a-node", "docker.io/tarscloud/tars-node:latest"),
		// Why left out: another project on the same engine.
		ctr(h1, "other", "framework", "other-framework", "tarscloud/framework:v3.0.15"),
		ctr(h2, "b", "framework", "b-framework", "tarscloud/framework:v3.0.15"),
	}
	st := states(running...)

	var probed []string
	for _, s := range f.containersOf(st) {
		for _, c := range s.Containers {
			probed = append(probed, c.Name)
		}
	}
	if got, want := strings.Join(probed, " "), "a-mysql a-framework a-framework.tarsup-old a-node b-framework"; got != want {
		t.Errorf("probed %s, want %s", got, want)
	}

	health := map[containerKey]orchestrator.StatusRow{{h1, "a-framework"}: {Health: "healthy"}, {h2, "b-framework"}: {Health: "unhealthy", HealthDetail: "no answer on 17890"}}
	var got []string
	for _, r := range f.joinStatus(st, health) {
		got = append(got, fmt.Sprintf("%s %s %s %s file=%s container=%s running=%s in_step=%v %s %s %s", r.Project, r.Host, r.Service, r.Role, r.Image, r.Container, r.RunningImage, r.InStep, r.State, r.Health, r.HealthDetail))
	}
	want := []string{
		"a " + h1 + " framework framework file=tarscloud/framework:v3.0.15 container=a-framework running=tarscloud/framework:v3.0.16 in_step=false running healthy ",
		"a " + h1 + " mysql db file=mysql:5.6 container=a-mysql running=mysql:5.6 in_step=true running  ",
		"a " + h1 + " node node file=tarscloud/tars-node:latest container=a-node running=docker.io/tarscloud/tars-node:latest in_step=true running  ",
		"b " + h2 + " framework framework file=tarscloud/framework:v3.0.15 container=b-framework running=tarscloud/framework:v3.0.15 in_step=true running unhealthy no answer on 17890",
		"b " + h2 + " mysql db file=mysql:5.6 container= running= in_step=false no container  ",
		"b " + h2 + " node node file=tarscloud/tars-node:latest container= running= in_step=false no container  ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
