package images

import (
	"errors"
	"github.com/tarsup/tarsup/fault"
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	tests := []struct {
		in                                   string
		str, repo, domain, tag, digest, tail string
		canonical, key                       string
	}{
		{
			in:  "tarscloud/framework:v3.0.15",
			str: "tarscloud/framework:v3.0.15", repo: "tarscloud/framework", domain: "docker.io",
			tag: "v3.0.15", tail: "tarscloud/framework",
			canonical: "docker.io/tarscloud/framework:v3.0.15", key: "tarscloud/framework:v3.0.15",
		},
		{
			in:  "docker.io/tarscloud/tars-node",
			str: "tarscloud/tars-node:latest", repo: "tarscloud/tars-node", domain: "docker.io",
			tag: "latest", tail: "tarscloud/tars-node",
			canonical: "docker.io/tarscloud/tars-node:latest", key: "tarscloud/tars-node:latest",
		},
		{
			in:  "mysql:5.6",
			str: "mysql:5.6", repo: "mysql", domain: "docker.io", tag: "5.6", tail: "library/mysql",
			canonical: "docker.io/library/mysql:5.6", key: "mysql:5.6",
		},
		{
			in:  "index.docker.io/library/busybox",
			str: "busybox:latest", repo: "busybox", domain: "docker.io", tag: "latest", tail: "library/busybox",
			canonical: "docker.io/library/busybox:latest", key: "busybox:latest",
		},
		{
			in:   "registry.example.com:5000/mirror/tarscloud/framework:v3.0.15",
			str:  "registry.example.com:5000/mirror/tarscloud/framework:v3.0.15",
			repo: "registry.example.com:5000/mirror/tarscloud/framework", domain: "registry.example.com:5000",
			tag: "v3.0.15", tail: "tarscloud/framework",
			canonical: "registry.example.com:5000/mirror/tarscloud/framework:v3.0.15",
			key:       "registry.example.com:5000/mirror/tarscloud/framework:v3.0.15",
		},
		{
			in:  "127.0.0.1:5000/tarscloud/framework@" + testDigest,
			str: "127.0.0.1:5000/tarscloud/framework@" + testDigest, repo: "127.0.0.1:5000/tarscloud/framework",
			domain: "127.0.0.1:5000", digest: testDigest, tail: "tarscloud/framework",
			canonical: "127.0.0.1:5000/tarscloud/framework@" + testDigest,
			key:       "127.0.0.1:5000/tarscloud/framework@" + testDigest,
		},
		{
			in:  "tarscloud/framework:v3.0.15@" + testDigest,
			str: "tarscloud/framework:v3.0.15@" + testDigest, repo: "tarscloud/framework", domain: "docker.io",
			tag: "v3.0.15", digest: testDigest, tail: "tarscloud/framework",
			canonical: "docker.io/tarscloud/framework:v3.0.15@" + testDigest, key: "tarscloud/framework:v3.0.15",
		},
		{
			in:  "localhost/tarscloud/framework:v3",
			str: "localhost/tarscloud/framework:v3", repo: "localhost/tarscloud/framework", domain: "localhost",
			tag: "v3", tail: "tarscloud/framework",
			canonical: "localhost/tarscloud/framework:v3", key: "localhost/tarscloud/framework:v3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			got := map[string][2]string{
				"String":     {r.String(), tt.str},
				"Repository": {r.Repository(), tt.repo},
				"Domain":     {r.Domain(), tt.domain},
				"Tag":        {r.Tag(), tt.tag},
				"Digest":     {r.Digest(), tt.digest},
				"Tail":       {r.Tail(), tt.tail},
				"Canonical":  {r.Canonical(), tt.canonical},
				"Key":        {r.Key(), tt.key},
			}
			for method, g := range got {
				if g[0] != g[1] {
					t.Errorf("%s() = %q, want %q", method, g[0], g[1])
				}
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		in   string
		want string // the whole message
	}{
		{"tarscloud/Framework:v3", `bad image reference "tarscloud/Framework:v3": repository name must be lowercase; use tarscloud/framework:v3`},
		{"Registry.Example.com/Mirror/framework:V3", `bad image reference "Registry.Example.com/Mirror/framework:V3": repository name must be lowercase; use Registry.Example.com/mirror/framework:V3`},
		{"", `bad image reference "": it is empty; use e.g. tarscloud/framework:v3.0.16`},
		{"tarscloud/framework:-v3", `bad image reference "tarscloud/framework:-v3": tag must be up to 128 letters, digits, '_', '.' or '-' and not start with '.' or '-'; use e.g. tarscloud/framework:v3.0.16`},
		{"tarscloud/framework@sha256:abc", `bad image reference "tarscloud/framework@sha256:abc": digest must be sha256: followed by 64 lowercase hex digits; use e.g. tarscloud/framework@sha256:<64 hex digits> or a tag`},
		{strings.TrimPrefix(testDigest, "sha256:"), `bad image reference "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": that is an image ID, not a reference; use the image's repository and tag, e.g. tarscloud/framework:v3.0.16`},
		{":v3", `bad image reference ":v3": it has no repository name; use e.g. tarscloud/framework:v3.0.16`},
		{"tarscloud/framework v3", `bad image reference "tarscloud/framework v3": invalid reference format (expected [registry[:port]/]repository[:tag][@digest]); use e.g. tarscloud/framework:v3.0.16`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tt.in)
			}
			if !errors.Is(err, fault.BadReference) {
				t.Errorf("error %v does not match fault.BadReference", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestWithTag(t *testing.T) {
	tests := []struct {
		in, tag, want string
	}{
		{"tarscloud/framework:v3.0.15", "v3.0.16", "tarscloud/framework:v3.0.16"},
		{"registry.example.com/mirror/tarscloud/framework:v3.0.15", "v3.0.16", "registry.example.com/mirror/tarscloud/framework:v3.0.16"},
		{"127.0.0.1:5000/tarscloud/framework:v3.0.15@" + testDigest, "v3.0.16", "127.0.0.1:5000/tarscloud/framework:v3.0.16"},
		{"tarscloud/framework", "v3.0.16", "tarscloud/framework:v3.0.16"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.WithTag(tt.tag)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want || got.Digest() != "" {
				t.Errorf("WithTag(%q) = %s (digest %q), want %s and no digest", tt.tag, got, got.Digest(), tt.want)
			}
		})
	}
	t.Run("bad tag", func(t *testing.T) {
		r, _ := Parse("tarscloud/framework:v3.0.15")
		if _, err := r.WithTag("v3 .0"); !errors.Is(err, fault.BadReference) {
			t.Errorf("WithTag(bad) error = %v, want fault.BadReference", err)
		}
	})
}

func TestRemoteRefScheme(t *testing.T) {
	tests := []struct {
		in, scheme, want string
	}{
		{"127.0.0.1:5000/tarscloud/framework:v3", "http", "127.0.0.1:5000/tarscloud/framework:v3"},
		{"127.0.0.2:5000/tarscloud/framework:v3", "http", "127.0.0.2:5000/tarscloud/framework:v3"},
		{"localhost/tarscloud/framework", "http", "localhost/tarscloud/framework:latest"},
		{"[::1]:5000/tarscloud/framework:v3", "http", "[::1]:5000/tarscloud/framework:v3"},
		{"registry.example.com/x:v3@" + testDigest, "https", "registry.example.com/x:v3"},
		{"tarscloud/framework@" + testDigest, "https", "index.docker.io/tarscloud/framework@" + testDigest},
		{"busybox", "https", "index.docker.io/library/busybox:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := r.remoteRef()
			if err != nil {
				t.Fatal(err)
			}
			if got := rr.Context().Registry.Scheme(); got != tt.scheme {
				t.Errorf("scheme = %s, want %s", got, tt.scheme)
			}
			if got := rr.Name(); got != tt.want {
				t.Errorf("reference = %s, want %s", got, tt.want)
			}
		})
	}
}
