package plan

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// TestAttachedBefore: recovery reattaches the old container of a swap to the
// networks its successor's journal records, never to networks a successor
// that is not a faithful copy happens to be on.
func TestAttachedBefore(t *testing.T) {
	prev, err := EncodeSpec(Spec{Networks: map[string]*network.EndpointSettings{"tars": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "172.25.0.5"}}}})
	if err != nil {
		t.Fatal(err)
	}
	live := &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"bridge": {}}}
	onNone := Container{Inspect: container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{}, NetworkSettings: &container.NetworkSettings{}}}
	onTars := Container{Inspect: container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{"tars": {}}}}}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		old    Container
		want   string
	}{
		{"the journal's record wins", map[string]string{LabelPrevious: prev}, onTars, "tars"},
		{"the journal's record, old on no network", map[string]string{LabelPrevious: prev}, onNone, "tars"},
		{"no record, old still attached: nothing", nil, onTars, ""},
		{"no record, old on no network: the successor's", nil, onNone, "bridge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AttachedBefore(container.Summary{Labels: tc.labels, NetworkSettings: live}, tc.old)
			if s := strings.Join(slices.Sorted(maps.Keys(got)), ","); s != tc.want {
				t.Errorf("networks %q, want %q", s, tc.want)
			}
		})
	}
}
