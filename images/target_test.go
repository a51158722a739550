package images

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeAndSameImage(t *testing.T) {
	tests := []struct {
		a, b, norm string
		same       bool
	}{
		{"tarscloud/framework", "docker.io/tarscloud/framework:latest", "tarscloud/framework:latest", true},
		{"tarscloud/framework:v3.0.15", "tarscloud/framework:v3.0.16", "tarscloud/framework:v3.0.15", false},
		{"127.0.0.1:5000/tarscloud/framework:v3", "tarscloud/framework:v3", "127.0.0.1:5000/tarscloud/framework:v3", false},
		{"Not A Ref", "Not A Ref", "Not A Ref", true},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			if got := Normalize(tt.a); got != tt.norm {
				t.Errorf("Normalize(%q) = %q, want %q", tt.a, got, tt.norm)
			}
			if got := SameImage(tt.a, tt.b); got != tt.same {
				t.Errorf("SameImage(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
			}
		})
	}
}

func TestRepoDigests(t *testing.T) {
	recorded := []string{
		"mirror.example.com/tarscloud/framework@sha256:aaa",
		"tarscloud/framework@sha256:bbb",
		"docker.io/tarscloud/framework@sha256:ccc",
		"broken",
	}
	tests := []struct {
		ref  string
		want []string
	}{
		{"tarscloud/framework:v3.0.15", []string{"sha256:bbb", "sha256:ccc"}},
		{"docker.io/tarscloud/framework", []string{"sha256:bbb", "sha256:ccc"}},
		{"mirror.example.com/tarscloud/framework:v3", []string{"sha256:aaa"}},
		{"tarscloud/tars-node:latest", nil},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := RepoDigests(recorded, tt.ref); !slices.Equal(got, tt.want) {
				t.Errorf("RepoDigests(%q) = %v, want %v", tt.ref, got, tt.want)
			}
			want := ""
			if len(tt.want) > 0 {
				want = tt.want[0]
			}
			if got := RepoDigest(recorded, tt.ref); got != want {
				t.Errorf("RepoDigest(%q) = %q, want %q", tt.ref, got, want)
			}
		})
	}
	if got := RepositoryOf("Not A Ref"); got != "Not A Ref" {
		t.Errorf("RepositoryOf of a bad reference = %q, want it back", got)
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST:5000", true},
		{"127.0.0.1", true},
		{"127.0.0.1:5000", true},
		{"::1", true},
		{"[::1]:5000", true},
		{"10.0.0.5", false},
		{"10.0.0.5:2376", false},
		{"registry.example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := IsLoopback(tt.host); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

func TestRetarget(t *testing.T) {
	const fw, node = "tarscloud/framework:v3.0.15", "tarscloud/tars-node:latest"
	tests := []struct {
		name                string
		role                Role
		image, to, fwi, ndi string
		want, flag, errText string
		retagErr            bool
	}{
		{name: "no flag keeps the image, normalized", role: RoleFramework, image: "tarscloud/framework", want: "tarscloud/framework:latest"},
		{name: "--to retags a framework in its own repository", role: RoleFramework, image: "127.0.0.1:5000/tarscloud/framework:v3.0.15", to: "v3.0.16",
			want: "127.0.0.1:5000/tarscloud/framework:v3.0.16", flag: FlagTo},
		{name: "--to retags the web", role: RoleWeb, image: "tarscloud/framework:v3.0.15", to: "v3.0.16", want: "tarscloud/framework:v3.0.16", flag: FlagTo},
		{name: "--to leaves a node alone", role: RoleNode, image: node, to: "v3.0.16", want: node},
		{name: "--framework-image wins over --to", role: RoleFramework, image: fw, to: "v3.0.16", fwi: "mirror.example.com/tarscloud/framework:v3.0.17",
			want: "mirror.example.com/tarscloud/framework:v3.0.17", flag: FlagFrameworkImage},
		{name: "--framework-image is not for the web", role: RoleWeb, image: fw, fwi: "tarscloud/framework:v3.0.17", want: fw},
		{name: "--node-image moves a node", role: RoleNode, image: node, ndi: "tarscloud/tars-node:stable", want: "tarscloud/tars-node:stable", flag: FlagNodeImage},
		{name: "--node-image leaves a framework alone", role: RoleFramework, image: fw, ndi: "tarscloud/tars-node:stable", want: fw},
		{name: "the db is never retargeted", role: RoleDB, image: "mysql:8", to: "v3.0.16", fwi: fw, ndi: node, want: "mysql:8"},
		{name: "a bad --framework-image names the flag", role: RoleFramework, image: fw, fwi: "Bad Ref", flag: FlagFrameworkImage, errText: "--framework-image: "},
		{name: "a bad --to tag names the flag", role: RoleFramework, image: fw, to: "bad tag!", flag: FlagTo, errText: "--to bad tag!: "},
		{name: "an image that cannot be retagged", role: RoleFramework, image: "Not A Ref", to: "v3.0.16", flag: FlagTo, retagErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, flag, err := Retarget(tt.role, tt.image, tt.to, tt.fwi, tt.ndi)
			var retag *RetagError
			if errors.As(err, &retag) != tt.retagErr {
				t.Fatalf("err %v: RetagError %v, want %v", err, !tt.retagErr, tt.retagErr)
			}
			if (err != nil) != (tt.errText != "" || tt.retagErr) || (tt.errText != "" && !strings.HasPrefix(err.Error(), tt.errText)) {
				t.Fatalf("err %v, want one starting %q", err, tt.errText)
			}
			if got != tt.want || flag != tt.flag {
				t.Errorf("Retarget = %q, %q; want %q, %q", got, flag, tt.want, tt.flag)
			}
		})
	}
}
