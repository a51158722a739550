package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The packages the bed builds.
const (
	fakePackage   = "github.com/tarsup/tarsup/tests/fake/tarsfake"
	tarsupPackage = "github.com/tarsup/tarsup/cmd/tarsup"
)

// BuildFake builds the fake Tars program (tests/fake/tarsfake) as a static
// binary into outDir and returns its path. It must run inside the module.
func BuildFake(ctx context.Context, outDir string) (string, error) {
	return buildStatic(ctx, outDir, "tarsfake", fakePackage)
}

// BuildTarsup builds the tarsup CLI (cmd/tarsup) as a static binary into
// outDir and returns its path. It must run inside the module.
func BuildTarsup(ctx context.Context, outDir string) (string, error) {
	return buildStatic(ctx, outDir, "tarsup", tarsupPackage)
}

func buildStatic(ctx context.Context, outDir, name, pkg string) (string, error) {
	out := filepath.Join(outDir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	// Why static: the fake runs in images built FROM scratch, with no libc.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w: %s", pkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
