package compose

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// composeLabels are the labels docker compose gives container number n of a service.
func composeLabels(project, service string, oneoff bool) map[string]string {
	o := "False"
	if oneoff {
		o = "True"
	}
	return map[string]string{LabelProject: project, LabelService: service, LabelOneoff: o, "com.docker.compose.container-number": "1"}
}

func TestPlanUpgrade(t *testing.T) {
	// lab is the TarsDocs layout under project name "lab" with compose's own
	// container names (no container_name:).
	lab := strings.NewReplacer("    container_name: tars-mysql\n", "", "    container_name: tars-framework\n", "", "    container_name: tars-node\n", "").Replace(tarsDocs)
	labRunning := []Running{
		{Name: "lab_mysql_1", Image: "mysql:5.6", Labels: composeLabels("lab", "mysql", false)},
		{Name: "lab_framework_1", Image: "tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", false)},
		{Name: "lab_node_1", Image: "tarscloud/tars-node:latest", Labels: composeLabels("lab", "node", false)},
	}
	framework := func(image string) string {
		return "name: lab\nservices:\n  framework:\n    image: " + image + "\n    network_mode: host\n"
	}
	tests := []struct {
		name    string
		file    string
		running []Running
		req     ImageRequest
		// want lists each Tars service as "service role image -> new [containers]".
		want []string
		// diff lists the changed lines of compose.yaml as "-old" and "+new".
		diff     []string
		only     []string
		warnings []string
		// err lists substrings of the expected error, which wraps errIs.
		err   []string
		errIs error
	}{
		{
			name:    "TarsDocs --to: the framework moves, the node follows its tag, the db is not part of it",
			file:    lab,
			running: labRunning,
			req:     ImageRequest{To: "v3.0.16"},
			want: []string{
				"framework framework tarscloud/framework:v3.0.15 -> tarscloud/framework:v3.0.16 [lab_framework_1]",
				"node node tarscloud/tars-node:latest -> - [lab_node_1]",
			},
			diff: []string{"-    image: tarscloud/framework:v3.0.15 # pinned by ops", "+    image: tarscloud/framework:v3.0.16 # pinned by ops"},
			only: []string{"lab_framework_1", "lab_node_1"},
		},
		{
			name: "one-off containers, other projects and an upgrade's temporary containers are not the service's",
			file: lab,
			running: append(slices.Clone(labRunning),
				Running{Name: "lab_framework_run_1f2e", Image: "tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", true)},
				Running{Name: "other_framework_1", Image: "tarscloud/framework:v3.0.15", Labels: composeLabels("other", "framework", false)},
				Running{Name: "lab_node_1.tarsup-old", Image: "tarscloud/tars-node:latest", Labels: composeLabels("lab", "node", false)},
				Running{Name: "lab_gone_1", Image: "tarscloud/tars-node:latest", Labels: composeLabels("lab", "gone", false)},
			),
			req: ImageRequest{To: "v3.0.16"},
			want: []string{
				"framework framework tarscloud/framework:v3.0.15 -> tarscloud/framework:v3.0.16 [lab_framework_1]",
				"node node tarscloud/tars-node:latest -> - [lab_node_1]",
			},
			diff: []string{"-    image: tarscloud/framework:v3.0.15 # pinned by ops", "+    image: tarscloud/framework:v3.0.16 # pinned by ops"},
			only: []string{"lab_framework_1", "lab_node_1"},
		},
		{
			name:    "--framework-image and --node-image name the images outright",
			file:    lab,
			running: labRunning,
			req:     ImageRequest{FrameworkImage: "mirror.example.com/tars/tarscloud/framework:v3.0.16", NodeImage: "tarscloud/tars-node:v3.0.16"},
			want: []string{
				"framework framework tarscloud/framework:v3.0.15 -> mirror.example.com/tars/tarscloud/framework:v3.0.16 [lab_framework_1]",
				"node node tarscloud/tars-node:latest -> tarscloud/tars-node:v3.0.16 [lab_node_1]",
			},
			diff: []string{
				"-    image: tarscloud/framework:v3.0.15 # pinned by ops", "-    image: tarscloud/tars-node:latest",
				"+    image: mirror.example.com/tars/tarscloud/framework:v3.0.16 # pinned by ops", "+    image: tarscloud/tars-node:v3.0.16",
			},
			only: []string{"lab_framework_1", "lab_node_1"},
		},
		{
			name:    "--to keeps the registry as the file spells it",
			file:    framework("127.0.0.1:5000/tarscloud/framework:v3.0.15"),
			running: []Running{{Name: "lab-framework-1", Image: "127.0.0.1:5000/tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", false)}},
			req:     ImageRequest{To: "v3.0.16"},
			want:    []string{"framework framework 127.0.0.1:5000/tarscloud/framework:v3.0.15 -> 127.0.0.1:5000/tarscloud/framework:v3.0.16 [lab-framework-1]"},
			diff:    []string{"-    image: 127.0.0.1:5000/tarscloud/framework:v3.0.15", "+    image: 127.0.0.1:5000/tarscloud/framework:v3.0.16"},
			only:    []string{"lab-framework-1"},
		},
		{
			name:    "--to drops a digest and gives an untagged image its tag",
			file:    framework("docker.io/tarscloud/framework:v3.0.15@" + digestOld),
			running: []Running{{Name: "lab-framework-1", Image: "tarscloud/framework:v3.0.15@" + digestOld, Labels: composeLabels("lab", "framework", false)}},
			req:     ImageRequest{To: "v3.0.16"},
			want:    []string{"framework framework docker.io/tarscloud/framework:v3.0.15@" + digestOld + " -> docker.io/tarscloud/framework:v3.0.16 [lab-framework-1]"},
			diff:    []string{"-    image: docker.io/tarscloud/framework:v3.0.15@" + digestOld, "+    image: docker.io/tarscloud/framework:v3.0.16"},
			only:    []string{"lab-framework-1"},
		},
		{
			name:    "the file already names the target: no edit, the container still moves",
			file:    framework("tarscloud/framework:v3.0.16"),
			running: []Running{{Name: "lab-framework-1", Image: "tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", false)}},
			req:     ImageRequest{To: "v3.0.16"},
			want:    []string{"framework framework tarscloud/framework:v3.0.16 -> - [lab-framework-1]"},
			only:    []string{"lab-framework-1"},
		},
		{
			name:     "a service without a container: the line changes, a warning says so",
			file:     framework("tarscloud/framework:v3.0.15"),
			req:      ImageRequest{To: "v3.0.16"},
			want:     []string{"framework framework tarscloud/framework:v3.0.15 -> tarscloud/framework:v3.0.16 []"},
			diff:     []string{"-    image: tarscloud/framework:v3.0.15", "+    image: tarscloud/framework:v3.0.16"},
			warnings: []string{"service framework (DIR/compose.yaml) has no container in project lab on tcp://10.0.0.5:2376: nothing to recreate; its image: line changes to tarscloud/framework:v3.0.16"},
		},
		{
			name:    "a container from another repository than the file's would not end where the file says",
			file:    framework("tarscloud/framework:v3.0.15"),
			running: []Running{{Name: "lab-framework-1", Image: "mirror.example.com/tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", false)}},
			req:     ImageRequest{To: "v3.0.16"},
			errIs:   ErrOutOfStep,
			err: []string{"service framework in DIR/compose.yaml names tarscloud/framework:v3.0.15, which becomes tarscloud/framework:v3.0.16",
				"lab-framework-1 on tcp://10.0.0.5:2376 runs mirror.example.com/tarscloud/framework:v3.0.15", "docker compose up -d framework"},
		},
		{
			name: "a node on another tag than its file, with no image flag",
			file: lab,
			running: []Running{
				{Name: "lab_framework_1", Image: "tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", false)},
				{Name: "lab_node_1", Image: "tarscloud/tars-node:stable", Labels: composeLabels("lab", "node", false)},
			},
			errIs: ErrOutOfStep,
			err:   []string{"service node in DIR/compose.yaml names tarscloud/tars-node:latest but its container lab_node_1 on tcp://10.0.0.5:2376 runs tarscloud/tars-node:stable"},
		},
		{
			name:    "a tag variable shared with a service that is not to change",
			file:    "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:${TAG}\n    network_mode: host\n  web:\n    image: tarscloud/tars-node:${TAG}\n    network_mode: host\n",
			running: []Running{{Name: "lab-framework-1", Image: "tarscloud/framework:v3.0.15", Labels: composeLabels("lab", "framework", false)}},
			req:     ImageRequest{To: "v3.0.16"},
			errIs:   ErrCannotRewrite,
			err:     []string{"TAG in DIR/.env sets the image of service framework"},
		},
		{
			name:  "a bad --framework-image",
			file:  framework("tarscloud/framework:v3.0.15"),
			req:   ImageRequest{FrameworkImage: "Tarscloud/Framework"},
			err:   []string{"service framework in DIR/compose.yaml: --framework-image: bad image reference"},
			errIs: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"compose.yaml": tc.file}
			if strings.Contains(tc.file, "${TAG}") {
				files[".env"] = "TAG=v3.0.15\n"
			}
			p, dir, err := loadFiles(t, files, Options{ProjectName: "lab"})
			if err != nil {
				t.Fatal(err)
			}
			u, err := PlanUpgrade(p, "tcp://10.0.0.5:2376", tc.running, tc.req)
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatalf("no error; want one with %q", tc.err)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("error does not wrap %v: %v", tc.errIs, err)
				}
				for _, s := range tc.err {
					if s = strings.ReplaceAll(s, "DIR", dir); !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q:\n%v", s, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range u.Services {
				to := s.NewImage
				if to == "" {
					to = "-"
				}
				got = append(got, fmt.Sprintf("%s %s %s -> %s %v", s.Service, s.Role, s.Image, to, s.Containers))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("services:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if got := u.Only(); !slices.Equal(got, tc.only) {
				t.Errorf("Only() = %v, want %v", got, tc.only)
			}
			var warnings []string
			for _, w := range tc.warnings {
				warnings = append(warnings, strings.ReplaceAll(w, "DIR", dir))
			}
			if len(u.Warnings) != len(warnings) {
				t.Errorf("warnings %q, want %q", u.Warnings, warnings)
			}
			for i := range min(len(u.Warnings), len(warnings)) {
				if !strings.HasPrefix(u.Warnings[i], warnings[i]) {
					t.Errorf("warning %q, want it to start with %q", u.Warnings[i], warnings[i])
				}
			}
			if got := changedLines(u.Edits); !slices.Equal(got, tc.diff) {
				t.Errorf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.diff, "\n"))
			}
		})
	}
}

// changedLines returns the removed and added lines of the edits' diffs,
// removed ones first, each group sorted.
func changedLines(edits []FileEdit) []string {
	var minus, plus []string
	for _, e := range edits {
		for _, l := range strings.Split(e.Diff(), "\n") {
			switch {
			case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
			case strings.HasPrefix(l, "-"):
				minus = append(minus, l)
			case strings.HasPrefix(l, "+"):
				plus = append(plus, l)
			}
		}
	}
	sort.Strings(minus)
	sort.Strings(plus)
	return append(minus, plus...)
}

func TestUpgradeEditsFor(t *testing.T) {
	file := "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    network_mode: host\n  node:\n    image: tarscloud/tars-node:latest # floats\n    network_mode: host\n"
	p, _, err := loadFiles(t, map[string]string{"compose.yaml": file}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := PlanUpgrade(p, "unix:///var/run/docker.sock", nil, ImageRequest{To: "v3.0.16", NodeImage: "tarscloud/tars-node:v3.0.16"})
	if err != nil {
		t.Fatal(err)
	}
	if got := changedLines(u.Edits); len(got) != 4 {
		t.Fatalf("full plan changes %q, want both image lines", got)
	}
	for _, tc := range []struct {
		services []string
		want     []string
	}{
		{[]string{"framework"}, []string{"-    image: tarscloud/framework:v3.0.15", "+    image: tarscloud/framework:v3.0.16"}},
		{[]string{"node", "mysql"}, []string{"-    image: tarscloud/tars-node:latest # floats", "+    image: tarscloud/tars-node:v3.0.16 # floats"}},
		{nil, nil},
	} {
		edits, err := u.EditsFor(tc.services)
		if err != nil {
			t.Fatal(err)
		}
		if got := changedLines(edits); !slices.Equal(got, tc.want) {
			t.Errorf("EditsFor(%v) changes %q, want %q", tc.services, got, tc.want)
		}
	}
}

func TestServiceOf(t *testing.T) {
	p, _, err := loadFiles(t, map[string]string{"compose.yaml": tarsDocs}, Options{ProjectName: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{composeLabels("lab", "framework", false), "framework"},
		{map[string]string{LabelProject: "lab", LabelService: "node"}, "node"}, // no oneoff label: compose v1 before 1.21
		{composeLabels("lab", "framework", true), ""},
		{map[string]string{LabelProject: "lab", LabelService: "node", LabelOneoff: "true"}, ""},
		{composeLabels("lab2", "framework", false), ""},
		{composeLabels("lab", "web", false), ""},
		{nil, ""},
	} {
		got, ok := p.ServiceOf(tc.labels)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ServiceOf(%v) = %q, %t; want %q", tc.labels, got, ok, tc.want)
		}
	}
}
