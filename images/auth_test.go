package images

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
)

func TestPullAuth(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	config := `{"auths": {
		"127.0.0.1:5000": {"auth": "` + b64("alice:s3cret") + `"},
		"https://index.docker.io/v1/": {"auth": "` + b64("bob:hub-pw") + `"},
		"token.example.com": {"auth": "` + b64("<token>:") + `", "identitytoken": "tok-123"}
	}}`
	tests := []struct {
		name, config, ref string
		want              *registry.AuthConfig // nil: anonymous, ""
		wantErr           bool
	}{
		{name: "private registry", config: config, ref: "127.0.0.1:5000/tarscloud/framework:v3.0.16",
			want: &registry.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: "127.0.0.1:5000"}},
		{name: "docker hub", config: config, ref: "tarscloud/framework:v3.0.16",
			want: &registry.AuthConfig{Username: "bob", Password: "hub-pw", ServerAddress: "https://index.docker.io/v1/"}},
		{name: "identity token", config: config, ref: "token.example.com/tarscloud/tars-node:stable",
			want: &registry.AuthConfig{Username: "<token>", IdentityToken: "tok-123", ServerAddress: "token.example.com"}},
		{name: "no credentials for this registry", config: config, ref: "registry.example.com/tarscloud/framework:v3"},
		{name: "no config at all", ref: "127.0.0.1:5000/tarscloud/framework:v3"},
		{name: "broken config", config: `{"auths": `, ref: "127.0.0.1:5000/tarscloud/framework:v3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("HOME", dir)
			t.Setenv("DOCKER_CONFIG", dir)
			t.Setenv("REGISTRY_AUTH_FILE", "")
			t.Setenv("XDG_RUNTIME_DIR", dir)
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ref, err := Parse(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := PullAuth(context.Background(), authn.DefaultKeychain, ref)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("PullAuth succeeded with %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if got != "" {
					t.Fatalf("PullAuth = %q, want \"\" (anonymous)", got)
				}
				return
			}
			ac, err := registry.DecodeAuthConfig(got)
			if err != nil {
				t.Fatalf("decode %q: %v", got, err)
			}
			if *ac != *tt.want {
				t.Errorf("PullAuth decodes to %+v, want %+v", *ac, *tt.want)
			}
		})
	}
}
