package main

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
)

func TestOverlaps(t *testing.T) {
	_, lab, _ := net.ParseCIDR(Subnet)
	for cidr, want := range map[string]bool{
		"172.31.250.0/24":   true,
		"172.31.0.0/16":     true, // holds the lab's
		"172.31.250.128/25": true, // inside the lab's
		"172.31.251.0/24":   false,
		"10.240.1.0/24":     false,
		"fd00::/64":         false,
		"":                  false,
	} {
		if got := overlaps(cidr, lab); got != want {
			t.Errorf("overlaps(%q, %s) = %t, want %t", cidr, Subnet, got, want)
		}
	}
}

func TestIsLabNeedsLabelAndPrefix(t *testing.T) {
	lab := map[string]string{Label: LabelValue}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"/tarsup-demo-framework", lab, true},
		{"tarsup-demo-node1.tarsup-old", lab, true},
		{"tarsup-demo-framework", nil, false},                               // somebody's, named like the lab's
		{"tarsup-demo-framework", map[string]string{Label: "other"}, false}, // another value
		{"my-framework", lab, false},                                        // the label copied from a lab image
	} {
		if got := isLab(c.name, c.labels); got != c.want {
			t.Errorf("isLab(%q, %v) = %t, want %t", c.name, c.labels, got, c.want)
		}
	}
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{
		"tarsup-demo-node1":               "tarsup-demo-node1",
		"tarsup-demo-node1.tarsup-new":    "tarsup-demo-node1",
		"tarsup-demo-node1.tarsup-old":    "tarsup-demo-node1",
		"tarsup-demo-node1.tarsup-failed": "tarsup-demo-node1",
	} {
		if got := baseName(in); got != want {
			t.Errorf("baseName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabRefs(t *testing.T) {
	im := image.Summary{
		RepoTags:    []string{"127.0.0.1:41234/tarsup-demo/tarscloud/framework:v3.0.15", "127.0.0.1:41234/tarscloud/framework:v3.0.15", "mine/framework:keep"},
		RepoDigests: []string{"127.0.0.1:5000/tarsup-demo/tarscloud/tars-node@sha256:ab", "registry.example.com/tarsup-demo/x@sha256:cd"},
	}
	got := strings.Join(labRefs(im), " ")
	want := "127.0.0.1:41234/tarsup-demo/tarscloud/framework:v3.0.15 127.0.0.1:5000/tarsup-demo/tarscloud/tars-node@sha256:ab"
	if got != want {
		t.Errorf("labRefs = %q, want %q", got, want)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"./bin/tarsup", "upgrade", "--to", "v3.0.16", "--only", "a b", "it's", ""})
	want := `./bin/tarsup upgrade --to v3.0.16 --only 'a b' 'it'\''s' ''`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
	for in, want := range map[string]string{"bin/tarsup": "./bin/tarsup", "/usr/bin/tarsup": "/usr/bin/tarsup", "./tarsup": "./tarsup"} {
		if got := displayPath(in); got != want {
			t.Errorf("displayPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMismatches(t *testing.T) {
	before := snapshot{
		fwName:       {ID: "a1", Name: fwName, IP: "172.31.250.3", State: "running", Version: "v3.0.15"},
		nodeNames[0]: {ID: "b1", Name: nodeNames[0], IP: "172.31.250.5", State: "running", Build: "1"},
	}
	good := snapshot{
		fwName:       {ID: "a2", Name: fwName, IP: "172.31.250.3", State: "running", Version: "v3.0.16"},
		nodeNames[0]: {ID: "b1", Name: nodeNames[0], IP: "172.31.250.5", State: "running", Build: "1"},
	}
	wants := map[string]want{fwName: {recreated: true, version: "v3.0.16"}, nodeNames[0]: {}}
	if bad := mismatches(before, good, wants); len(bad) != 0 {
		t.Errorf("mismatches of a good step: %v", bad)
	}
	bad := snapshot{
		fwName:                    {ID: "a1", Name: fwName, IP: "172.31.250.9", State: "exited", Version: "v3.0.15"},
		fwName + ".tarsup-failed": {ID: "c1"},
	}
	got := strings.Join(mismatches(before, bad, wants), "; ")
	for _, w := range []string{
		"tarsup-demo-framework moved from 172.31.250.3 to 172.31.250.9",
		"tarsup-demo-framework was not recreated",
		"tarsup-demo-framework is exited",
		`tarsup-demo-framework has version "v3.0.15", not "v3.0.16"`,
		"tarsup-demo-framework.tarsup-failed is left behind",
		"tarsup-demo-node1 is gone",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("mismatches = %s\nwant it to say %q", got, w)
		}
	}
}

func TestCompare(t *testing.T) {
	was := labContainer{ID: "0123456789abcdef", Version: "v3.0.15", Build: "1"}
	for _, c := range []struct {
		now  labContainer
		was  labContainer
		want string
	}{
		{labContainer{ID: "x"}, labContainer{}, "new"},
		{was, was, "kept"},
		{labContainer{ID: "y", Version: "v3.0.16"}, was, "recreated (was 0123456789ab, v3.0.15)"},
		{labContainer{ID: "y", Version: "v3.0.15", Build: "2"}, was, "recreated (was 0123456789ab, build 1)"},
	} {
		if got := compare(c.now, c.was); got != c.want {
			t.Errorf("compare(%+v, %+v) = %q, want %q", c.now, c.was, got, c.want)
		}
	}
}

func TestCatchTurnsFatalIntoAnError(t *testing.T) {
	var out bytes.Buffer
	lt := labT{out: &out}
	err := catch(func() error {
		lt.Errorf("a %s", "warning")
		lt.Fatalf("run %s: %v", "tarsup-demo-mysql", errors.New("boom"))
		return nil
	})
	if err == nil || err.Error() != "run tarsup-demo-mysql: boom" {
		t.Errorf("catch = %v", err)
	}
	if out.String() != "warning: a warning\n" {
		t.Errorf("Errorf wrote %q", out.String())
	}
	if err := catch(func() error { return errors.New("plain") }); err == nil || err.Error() != "plain" {
		t.Errorf("catch of a plain error = %v", err)
	}
	defer func() {
		if r := recover(); r != "other" {
			t.Errorf("catch swallowed a panic of another kind: %v", r)
		}
	}()
	_ = catch(func() error { panic("other") })
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"sideways"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "sideways"`) {
		t.Errorf("run sideways = %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"up", "down"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage:") {
		t.Errorf("run up down = %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"-tarsup", "/nonexistent/tarsup", "up"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "no tarsup binary at /nonexistent/tarsup") {
		t.Errorf("run with no binary = %d, %s", code, errb.String())
	}
}
