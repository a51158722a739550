package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
)

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
		states  []HostState
		only    []string
		digests map[string]images.DigestResult
		want    string
		wantErr error
		errText string
	}{
		{
			name:    "nothing moved: one line, the db and containers set aside are not checked",
			states:  []HostState{state("h1", master, node1, node2, stable, db, aside)},
			digests: none,
			want:    "refresh: 4 containers checked, 3 tags, nothing moved\n",
		},
		{
			name:    "a floating tag moved: just its containers, not one that already runs the new digest",
			states:  []HostState{state("h1", master, node1, node2, stable, pulledAlready)},
			digests: latestMoved,
			want: "refresh: 5 containers checked, 3 tags, 2 moved\n" +
				"h1 tars-node1: latest moved sha256:cccc… -> sha256:dddd…\n" +
				"h1 tars-node2: latest moved sha256:cccc… -> sha256:dddd…\n",
		},
		{
			name:    "across hosts",
			states:  []HostState{state("h1", master, node1), state("h2", node2)},
			digests: latestMoved,
			want: "refresh: 3 containers checked, 2 tags, 2 moved\n" +
				"h1 tars-node1: latest moved sha256:cccc… -> sha256:dddd…\n" +
				"h2 tars-node2: latest moved sha256:cccc… -> sha256:dddd…\n",
		},
		{
			name:    "--only limits the check",
			states:  []HostState{state("h1", master, node1, node2)},
			only:    []string{"tars-node2"},
			digests: latestMoved,
			want: "refresh: 1 container checked, 1 tag, 1 moved\n" +
				"h1 tars-node2: latest moved sha256:cccc… -> sha256:dddd…\n",
		},
		{
			name:    "an image without a digest from its repository is left alone",
			states:  []HostState{state("h1", node1, local)},
			digests: latestMoved,
			want: "refresh: 1 container checked, 1 tag, 1 moved, 1 not comparable (left alone)\n" +
				"h1 tars-node1: latest moved sha256:cccc… -> sha256:dddd…\n" +
				"unchecked tars-node-local: its image has no digest from tarscloud/tars-node (built or loaded locally?); use tarsup upgrade to move it\n",
		},
		{
			name:   "a failed look-up fails the check and names the tag",
			states: []HostState{state("h1", node1, stable)},
			digests: map[string]images.DigestResult{
				"tarscloud/tars-node:latest": ok("tarscloud/tars-node:latest", nodeNew),
				"tarscloud/tars-node:stable": {Err: fmt.Errorf("tag stable not found: %w", fault.NotFound)},
			},
			wantErr: fault.NotFound,
			errText: "look up tarscloud/tars-node:stable: tag stable not found",
		},
		{
			name:    "--only naming the db is refused",
			states:  []HostState{state("h1", master, db)},
			only:    []string{"tars-mysql"},
			digests: none,
			wantErr: fault.Refused,
			errText: "database",
		},
		{
			name:    "--only naming nothing known",
			states:  []HostState{state("h1", master)},
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
		states   []HostState
		tags     map[string][]string
		anyMajor bool
		want     string
		errText  string
	}{
		{
			name:   "newest release of the same major; pre-releases and aliases ignored",
			states: []HostState{state("h1", fw("tars-framework", "tarscloud/framework:v3.0.15"), node)},
			tags:   map[string][]string{"tarscloud/framework": tags},
			want:   "v3.0.15 -> v3.1.0",
		},
		{
			name:     "another major when allowed",
			states:   []HostState{state("h1", fw("tars-framework", "tarscloud/framework:v3.0.15"))},
			tags:     map[string][]string{"tarscloud/framework": tags},
			anyMajor: true,
			want:     "v3.0.15 -> v4.0.0",
		},
		{
			name:   "already the newest",
			states: []HostState{state("h1", fw("tars-framework", "tarscloud/framework:v3.1.0"))},
			tags:   map[string][]string{"tarscloud/framework": tags},
			want:   " -> ",
		},
		{
			name:   "a framework on latest has no version to compare",
			states: []HostState{state("h1", fw("tars-framework", "tarscloud/framework:latest"))},
			tags:   map[string][]string{"tarscloud/framework": tags},
			want:   " -> ",
		},
		{
			name: "the newest version run counts, and the target must be in every repository",
			states: []HostState{
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
