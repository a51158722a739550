package orchestrator

// These fixtures are also in plan/fixtures_test.go (test helpers do not
// cross packages): the plan tests there, the executor and workflow tests here.

import (
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// fx describes one container of a literal observed state.
type fx struct {
	name, image, imageID string
	env                  []string
	labels               map[string]string
	running              bool
	version              string // the image's version label
	digest               string // repo digest of the image
	ips                  map[string]string
	netMode              string // HostConfig.NetworkMode
	autoRemove           bool   // started with --rm
}

func (f fx) inspect() (container.InspectResponse, image.InspectResponse) {
	state := &container.State{Status: "exited"}
	if f.running {
		state = &container.State{Status: "running", Running: true, StartedAt: "2026-11-25T10:00:00Z"}
	}
	nets := map[string]*network.EndpointSettings{}
	for n, ip := range f.ips {
		nets[n] = &network.EndpointSettings{IPAddress: ip, NetworkID: "id-" + n}
	}
	in := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: "c0ffee" + f.name + "00000000000000", Name: "/" + f.name, Image: f.imageID, State: state,
			HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(f.netMode), AutoRemove: f.autoRemove},
		},
		Config:          &container.Config{Image: f.image, Env: f.env, Labels: f.labels},
		NetworkSettings: &container.NetworkSettings{Networks: nets},
	}
	img := image.InspectResponse{ID: f.imageID, Config: &dockerspec.DockerOCIImageConfig{}}
	if f.version != "" {
		img.Config.Labels = map[string]string{plan.OCIVersionLabel: f.version}
	}
	if f.digest != "" {
		img.RepoDigests = []string{images.RepositoryOf(f.image) + "@" + f.digest}
	}
	return in, img
}

func state(host string, fxs ...fx) plan.HostState {
	var all []plan.Container
	for _, f := range fxs {
		in, img := f.inspect()
		all = append(all, plan.FromInspect(host, in, img))
	}
	return plan.HostState{Host: host, APIVersion: "1.41", Containers: plan.TarsOnly(all)}
}

func pulled(id, ref, digest, version string) plan.Resolved {
	img := image.InspectResponse{ID: id, RepoDigests: []string{images.RepositoryOf(ref) + "@" + digest}, Config: &dockerspec.DockerOCIImageConfig{}}
	if version != "" {
		img.Config.Labels = map[string]string{plan.OCIVersionLabel: version}
	}
	return plan.Resolved{Image: img, Digest: digest}
}

const (
	fwOld   = "sha256:aaaa000000000000000000000000000000000000000000000000000000000000"
	fwNew   = "sha256:bbbb000000000000000000000000000000000000000000000000000000000000"
	nodeOld = "sha256:cccc000000000000000000000000000000000000000000000000000000000000"
	nodeNew = "sha256:dddd000000000000000000000000000000000000000000000000000000000000"
)

// healthyBefore is a pre-flight finding of a container that answered.
var healthyBefore = plan.HealthBefore{State: plan.HealthHealthy}

// stepLines is the dry run without its phase lines ("# ..."): the steps'
// lines, what most plan tests state.
func stepLines(p plan.Plan) string {
	var out []string
	for _, l := range strings.SplitAfter(p.String(), "\n") {
		if !strings.HasPrefix(l, "# ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
