package orchestrator

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestPlanAddresses states the address rules as plans: dynamic addresses are
// pinned, and said so; those that cannot be kept are refused unless
// --allow-ip-change; a --rm container and a target image of another role
// are refused.
func TestPlanAddresses(t *testing.T) {
	fwPulled := pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, "")
	nodeMoved := pulled("sha256:n2", "tarscloud/tars-node:latest", nodeNew, "")
	fw := func(mut func(*fx)) fx {
		f := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
			env: []string{"MYSQL_HOST=tars-mysql"}, netMode: "tars-net", ips: map[string]string{"tars-net": "172.25.0.10"}}
		if mut != nil {
			mut(&f)
		}
		return f
	}
	node := func(mut func(*fx)) fx {
		f := fx{name: "tars-node", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true,
			netMode: "tars-net", ips: map[string]string{"tars-net": "172.25.0.11"}}
		if mut != nil {
			mut(&f)
		}
		return f
	}
	onBridge := func(ip string) func(*fx) {
		return func(f *fx) { f.netMode, f.ips = "default", map[string]string{"bridge": ip} }
	}
	withSubnet := map[string]plan.NetworkFacts{"tars-net": {Name: "tars-net", ConfiguredSubnet: true}, "bridge": {Name: "bridge", ConfiguredSubnet: true}}
	noSubnet := map[string]plan.NetworkFacts{"tars-net": {Name: "tars-net"}}
	labelled := func(id, role string) plan.Resolved {
		r := pulled(id, "corp/tars-custom:1", fwNew, "")
		r.Image.Config.Labels = map[string]string{"tarsup.role": role}
		return r
	}

	tests := []struct {
		name     string
		fxs      []fx
		api      string
		nets     map[string]plan.NetworkFacts
		req      plan.Request
		resolved map[string]plan.Resolved
		want     string
		errText  []string
	}{
		{
			name: "dynamic addresses are pinned, and the dry run says so",
			fxs:  []fx{fw(nil), node(nil)},
			nets: withSubnet,
			req:  plan.Request{To: "v3.0.16"},
			resolved: map[string]plan.Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
				"h1 tarscloud/tars-node:latest":  nodeMoved,
			},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16; pins 172.25.0.10 on tars-net\n" +
				"tars-node: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved; pins 172.25.0.11 on tars-net\n",
		},
		{
			name:     "the default bridge takes no fixed address: refused, naming the container and the flag",
			fxs:      []fx{fw(onBridge("172.17.0.3"))},
			nets:     withSubnet,
			req:      plan.Request{To: "v3.0.16"},
			resolved: map[string]plan.Resolved{"h1 tarscloud/framework:v3.0.16": fwPulled},
			errText:  []string{"tars-framework on h1 would not keep its address 172.17.0.3 on bridge (the default bridge network takes no fixed address)", "--allow-ip-change"},
		},
		{
			name:     "--allow-ip-change lets it through, and the dry run says the address may change",
			fxs:      []fx{fw(onBridge("172.17.0.3"))},
			nets:     withSubnet,
			req:      plan.Request{To: "v3.0.16", AllowIPChange: true},
			resolved: map[string]plan.Resolved{"h1 tarscloud/framework:v3.0.16": fwPulled},
			want:     "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16; may change 172.17.0.3 on bridge (--allow-ip-change)\n",
		},
		{
			name: "a container on the default bridge that is not recreated blocks nothing",
			fxs:  []fx{fw(nil), node(onBridge("172.17.0.4"))},
			nets: withSubnet,
			req:  plan.Request{To: "v3.0.16"},
			resolved: map[string]plan.Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
				"h1 tarscloud/tars-node:latest":  pulled("sha256:n1", "tarscloud/tars-node:latest", nodeOld, ""),
			},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16; pins 172.25.0.10 on tars-net\n",
		},
		{
			name:     "a network without a configured subnet on API 1.41: refused",
			fxs:      []fx{fw(nil)},
			nets:     noSubnet,
			req:      plan.Request{To: "v3.0.16"},
			resolved: map[string]plan.Resolved{"h1 tarscloud/framework:v3.0.16": fwPulled},
			errText:  []string{"172.25.0.10 on tars-net (network tars-net has no configured subnet", "--allow-ip-change"},
		},
		{
			name:     "a network without a configured subnet on API 1.44: pinned",
			fxs:      []fx{fw(nil)},
			api:      "1.44",
			nets:     noSubnet,
			req:      plan.Request{To: "v3.0.16"},
			resolved: map[string]plan.Resolved{"h1 tarscloud/framework:v3.0.16": fwPulled},
			want:     "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16; pins 172.25.0.10 on tars-net\n",
		},
		{
			name: "host networking has no address to pin",
			fxs:  []fx{fw(func(f *fx) { f.netMode, f.ips = "host", map[string]string{"host": ""} })},
			req:  plan.Request{To: "v3.0.16"}, resolved: map[string]plan.Resolved{"h1 tarscloud/framework:v3.0.16": fwPulled},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n",
		},
		{
			name:     "a container started with --rm is refused, with the fix",
			fxs:      []fx{fw(func(f *fx) { f.autoRemove = true })},
			nets:     withSubnet,
			req:      plan.Request{To: "v3.0.16"},
			resolved: map[string]plan.Resolved{"h1 tarscloud/framework:v3.0.16": fwPulled},
			errText:  []string{"tars-framework on h1 was started with --rm", "Recreate it without --rm: docker run ... --restart always"},
		},
		{
			name:    "--framework-image naming a mysql image is refused before any pull",
			fxs:     []fx{fw(nil)},
			req:     plan.Request{FrameworkImage: "mysql:8"},
			errText: []string{"--framework-image mysql:8 names a db image", "tars-framework on h1 is a framework container"},
		},
		{
			name:    "--framework-image naming a tars-node image is refused",
			fxs:     []fx{fw(nil)},
			req:     plan.Request{FrameworkImage: "tarscloud/tars-node:latest"},
			errText: []string{"--framework-image tarscloud/tars-node:latest names a node image"},
		},
		{
			name:    "--node-image naming a framework image is refused",
			fxs:     []fx{node(nil)},
			req:     plan.Request{NodeImage: "tarscloud/framework:v3.0.16"},
			errText: []string{"--node-image tarscloud/framework:v3.0.16 names a framework image", "tars-node on h1 is a node container"},
		},
		{
			name:     "after the pull, the image's tarsup.role label says another role: refused",
			fxs:      []fx{fw(nil)},
			nets:     withSubnet,
			req:      plan.Request{FrameworkImage: "corp/tars-custom:1"},
			resolved: map[string]plan.Resolved{"h1 corp/tars-custom:1": labelled("sha256:c1", "node")},
			errText:  []string{"corp/tars-custom:1 (the image pulled for tars-framework on h1) is a node image"},
		},
		{
			name:     "an oddly named image whose label matches goes through",
			fxs:      []fx{fw(nil)},
			nets:     withSubnet,
			req:      plan.Request{FrameworkImage: "corp/tars-custom:1"},
			resolved: map[string]plan.Resolved{"h1 corp/tars-custom:1": labelled("sha256:c1", "framework")},
			want:     "tars-framework: recreate tarscloud/framework:v3.0.15 -> corp/tars-custom:1 (sha256:aaaa… -> sha256:bbbb…): --framework-image corp/tars-custom:1; pins 172.25.0.10 on tars-net\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := state("h1", tt.fxs...)
			s.Networks = tt.nets
			if tt.api != "" {
				s.APIVersion = tt.api
			}
			states := []plan.HostState{s}
			cands, err := plan.Select(states, tt.req)
			var p plan.Plan
			if err == nil {
				p, err = plan.BuildPlan(cands, tt.resolved, states, plan.Policy{Parallel: 1}, nil)
			}
			if tt.errText != nil {
				if !errors.Is(err, fault.Refused) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				for _, w := range tt.errText {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %q\nwant it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := stepLines(p); got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.want)
			}
			for _, st := range p.Steps() {
				for _, pin := range st.Pins {
					ep := st.Spec.Networks[pin.Network]
					if ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != pin.IP {
						t.Errorf("%s: the spec does not ask for %s on %s: %+v", st.Container.Name, pin.IP, pin.Network, ep)
					}
					if prev := st.Previous.Networks[pin.Network]; prev == nil || prev.IPAMConfig == nil || prev.IPAMConfig.IPv4Address != pin.IP {
						t.Errorf("%s: the rollback spec does not ask for %s on %s", st.Container.Name, pin.IP, pin.Network)
					}
				}
				for _, l := range st.IPChanges {
					if ep := st.Spec.Networks[l.Network]; ep != nil && ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address != "" {
						t.Errorf("%s: the spec asks for an address on %s, which the engine refuses", st.Container.Name, l.Network)
					}
				}
			}
		})
	}
}

// TestPinnedCreateShapes runs a recreate against the fake engine in each
// create-request shape (API 1.41: one network at create, the MAC in the
// container config; 1.44+: the MAC on the endpoint) and checks that the
// create and connect requests ask for the old container's addresses.
func TestPinnedCreateShapes(t *testing.T) {
	for _, api := range []string{"1.41", "1.44", "1.47"} {
		t.Run(api, func(t *testing.T) {
			f := newFakeEngine(t)
			f.api = api
			old := f.add("fw", "fw:old", true)
			old.HostConfig.NetworkMode = "tars-net"
			old.Config.MacAddress = "02:42:ac:19:00:0a" //nolint:staticcheck // how API < 1.44 reports a user-set MAC
			old.NetworkSettings.Networks = map[string]*network.EndpointSettings{
				"tars-net": {NetworkID: "n1", IPAddress: "172.25.0.10", GlobalIPv6Address: "fd00:25::10", Aliases: []string{"framework"}},
				"other":    {NetworkID: "n2", IPAddress: "10.9.0.7", IPAMConfig: &network.EndpointIPAMConfig{LinkLocalIPs: []string{"169.254.1.1"}}},
			}
			nets := map[string]plan.NetworkFacts{"tars-net": {Name: "tars-net", ConfiguredSubnet: true}, "other": {Name: "other", ConfiguredSubnet: true}}
			x, h := fakeExecutor(f)
			oc := containerOf(t, x, h, old.ID)
			spec := plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:new", Role: oc.Role, APIVersion: api, Networks: nets})
			if _, res, err := x.Replace(t.Context(), h, oc, spec, plan.PreviousSpec(oc, api)); err != nil || res != ResultUpgraded {
				t.Fatalf("replace: %s, %v", res, err)
			}
			sent := f.endpoints["fw.tarsup-new"]
			primary, other := sent["tars-net"], sent["other"]
			if primary == nil || primary.IPAMConfig == nil || primary.IPAMConfig.IPv4Address != "172.25.0.10" || primary.IPAMConfig.IPv6Address != "fd00:25::10" {
				t.Fatalf("create asked for %+v on tars-net, want 172.25.0.10 and fd00:25::10", primary)
			}
			if other == nil || other.IPAMConfig == nil || other.IPAMConfig.IPv4Address != "10.9.0.7" ||
				len(other.IPAMConfig.LinkLocalIPs) != 1 {
				t.Fatalf("connect asked for %+v on other, want 10.9.0.7 (and the link-local address kept)", other.IPAMConfig)
			}
			if !slices.Contains(f.calls, "connect fw.tarsup-new to other") {
				t.Errorf("calls %v: other was not connected before the start", f.calls)
			}
			newC := f.containers[mustFind(t, f, "fw").ID]
			mac := newC.Config.MacAddress //nolint:staticcheck // API < 1.44
			if versions.LessThan(api, "1.44") {
				if mac != "02:42:ac:19:00:0a" || primary.MacAddress != "" {
					t.Errorf("API %s: MAC config %q endpoint %q, want it in the config", api, mac, primary.MacAddress)
				}
			} else if primary.MacAddress != "02:42:ac:19:00:0a" {
				t.Errorf("API %s: MAC config %q endpoint %q, want it on the endpoint", api, mac, primary.MacAddress)
			}
		})
	}
}

func mustFind(t *testing.T, f *fakeEngine, name string) *container.InspectResponse {
	t.Helper()
	c, err := f.find(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRollbackKeepsAddress: when a rollback starts the old container again,
// it asks for the address the engine had given it (its successor just let
// it go): a dynamic address would otherwise be the lowest free one.
func TestRollbackKeepsAddress(t *testing.T) {
	f := newFakeEngine(t)
	f.health["fw:bad"] = plan.HealthUnhealthy
	old := f.add("fw", "fw:old", true)
	old.HostConfig.NetworkMode = "tars-net"
	old.NetworkSettings.Networks = map[string]*network.EndpointSettings{
		"tars-net": {NetworkID: "n1", IPAddress: "172.25.0.10", Aliases: []string{"framework"}},
	}
	x, h := fakeExecutor(f)
	oc := containerOf(t, x, h, old.ID)
	spec := plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:bad", Role: oc.Role, APIVersion: "1.41"})
	f.calls = nil
	if _, res, _ := x.Replace(t.Context(), h, oc, spec, plan.PreviousSpec(oc, "1.41")); res != ResultRolledBack {
		t.Fatalf("result %q, want rolled back", res)
	}
	want := []string{
		"create fw.tarsup-new (fw:bad)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
		"stop fw.tarsup-old", "start fw",
		"rename fw -> fw.tarsup-failed", "stop fw.tarsup-failed", "rename fw.tarsup-old -> fw",
		"disconnect fw from tars-net", "connect fw to tars-net", "start fw", "remove fw.tarsup-failed",
	}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	ep := f.endpoints["fw"]["tars-net"]
	if ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != "172.25.0.10" || !slices.Equal(ep.Aliases, []string{"framework"}) {
		t.Errorf("the old container reconnected with %+v, want 172.25.0.10 and its alias", ep)
	}
}
