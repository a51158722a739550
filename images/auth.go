package images

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
)

// dockerHubAuthKey is the server address the Docker CLI sends for Docker Hub.
const dockerHubAuthKey = "https://index.docker.io/v1/"

// PullAuth returns the credentials for pulling ref as the Docker Engine API
// wants them in ImagePull's RegistryAuth: base64url-encoded JSON of a
// registry.AuthConfig. They come from kc (authn.DefaultKeychain reads the
// Docker config and runs its credential helpers). No credentials give "".
func PullAuth(ctx context.Context, kc authn.Keychain, ref Ref) (string, error) {
	rr, err := ref.remoteRef()
	if err != nil {
		return "", err
	}
	a, err := authn.Resolve(ctx, kc, rr.Context())
	if err != nil {
		return "", fmt.Errorf("read credentials for %s from the Docker config: %w (fix the config file or its credential helper, or run docker login %s)", ref, err, ref.Domain())
	}
	if a == authn.Anonymous {
		return "", nil
	}
	cfg, err := authn.Authorization(ctx, a)
	if err != nil {
		return "", fmt.Errorf("get credentials for %s from the credential helper: %w (check the helper works, or run docker login %s)", ref, err, ref.Domain())
	}
	user, pass := cfg.Username, cfg.Password
	if user == "" && pass == "" && cfg.Auth != "" {
		// Why: the engine reads username and password, not the config
		// file's combined "auth" field.
		if user, pass, err = decodeAuth(cfg.Auth); err != nil {
			return "", fmt.Errorf("credentials for %s in the Docker config: %w (run docker login %s again)", ref, err, ref.Domain())
		}
	}
	ac := registry.AuthConfig{
		Username:      user,
		Password:      pass,
		IdentityToken: cfg.IdentityToken,
		RegistryToken: cfg.RegistryToken,
		ServerAddress: ref.Domain(),
	}
	if ac == (registry.AuthConfig{ServerAddress: ac.ServerAddress}) {
		return "", nil
	}
	if ac.ServerAddress == "docker.io" {
		ac.ServerAddress = dockerHubAuthKey
	}
	enc, err := registry.EncodeAuthConfig(ac)
	if err != nil {
		return "", fmt.Errorf("encode credentials for %s: %w", ref, err)
	}
	return enc, nil
}

// decodeAuth splits a Docker config "auth" field, base64("user:password").
func decodeAuth(field string) (user, pass string, err error) {
	b, err := base64.StdEncoding.DecodeString(field)
	if err != nil {
		return "", "", fmt.Errorf("auth field is not base64: %w", err)
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", errors.New("auth field is not user:password")
	}
	return user, pass, nil
}
