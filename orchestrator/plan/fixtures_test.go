package plan

import (
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/images"
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
		img.Config.Labels = map[string]string{OCIVersionLabel: f.version}
	}
	if f.digest != "" {
		img.RepoDigests = []string{images.RepositoryOf(f.image) + "@" + f.digest}
	}
	return in, img
}

func state(host string, fxs ...fx) HostState {
	var all []Container
	for _, f := range fxs {
		in, img := f.inspect()
		all = append(all, FromInspect(host, in, img))
	}
	return HostState{Host: host, APIVersion: "1.41", Containers: TarsOnly(all)}
}

func pulled(id, ref, digest, version string) Resolved {
	img := image.InspectResponse{ID: id, RepoDigests: []string{images.RepositoryOf(ref) + "@" + digest}, Config: &dockerspec.DockerOCIImageConfig{}}
	if version != "" {
		img.Config.Labels = map[string]string{OCIVersionLabel: version}
	}
	return Resolved{Image: img, Digest: digest}
}
