package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ComposeV2Version is the Compose v2 release the e2e tests run next to the
// machine's docker-compose 1.x.
const ComposeV2Version = "v2.40.3"

// composeV2Module is Compose v2's Go module; its ./cmd is the docker-compose binary.
const composeV2Module = "github.com/docker/compose/v2"

// ComposeV2 returns the path of a docker-compose binary of Compose v2 at
// version (ComposeV2Version, say), building it from its Go module the first
// time: `go mod download` (the Go module proxy), then `go build ./cmd` in a
// writable copy of the module, with the version stamped in as its release
// build does. Why build it: the machine has no Compose v2, and the tests must
// watch the real one decide whether to recreate.
//
// The binary is cached by version under /var/cache/tarsup-testbed (or the
// user's cache directory when that is not writable), so later runs reuse
// it; the first build takes minutes, and logf says so.
func ComposeV2(ctx context.Context, version string, logf func(format string, args ...any)) (string, error) {
	if logf == nil {
		logf = log.Printf
	}
	dir, err := composeCacheDir(version)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "docker-compose")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	// Why a lock: the bed's prewarm (Bed.Prewarm) may be building it right
	// now; a test that needs it waits for that build instead of making a
	// second one.
	unlock, err := flockWait(ctx, filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", fmt.Errorf("build compose %s: %w", version, err)
	}
	defer unlock()
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	logf("building Compose %s from its Go module into %s (once; this takes minutes)", version, bin)
	src, err := composeModuleDir(ctx, version)
	if err != nil {
		return "", err
	}
	// Why a copy: the module cache is read-only, and `go install` refuses a
	// module with exclude directives.
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("build compose %s: %w", version, err)
	}
	defer os.RemoveAll(work)
	if err := copyTree(src, filepath.Join(work, "src")); err != nil {
		return "", fmt.Errorf("build compose %s: copy the module: %w", version, err)
	}
	tmp := filepath.Join(work, "docker-compose")
	// Why nice: the build may run beside the first tests (Bed.Prewarm),
	// which must keep the machine's two cores when they need them.
	cmd := exec.CommandContext(ctx, "nice", "-n", "19", "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+composeV2Module+"/internal.Version="+version, "-o", tmp, "./cmd")
	cmd.Dir = filepath.Join(work, "src")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build compose %s: %w: %s", version, err, lastLines(string(out), 20))
	}
	// Why a rename: a run that dies mid-build leaves no half binary behind,
	// and two runs building at once both end with a whole one.
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("build compose %s: %w", version, err)
	}
	out, err := exec.CommandContext(ctx, bin, "version", "--short").Output()
	if err != nil || strings.TrimPrefix(strings.TrimSpace(string(out)), "v") != strings.TrimPrefix(version, "v") {
		return "", fmt.Errorf("compose %s built into %s reports version %q (%v)", version, bin, strings.TrimSpace(string(out)), err)
	}
	logf("built Compose %s: %s", version, bin)
	return bin, nil
}

// composeCacheDir is the directory that holds one compose version's binary.
func composeCacheDir(version string) (string, error) {
	var roots []string
	roots = append(roots, "/var/cache/tarsup-testbed")
	if d, err := os.UserCacheDir(); err == nil {
		roots = append(roots, filepath.Join(d, "tarsup-testbed"))
	}
	var errs []string
	for _, r := range roots {
		dir := filepath.Join(r, "compose-"+version)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return dir, nil
	}
	return "", fmt.Errorf("no writable cache directory for compose %s: %s", version, strings.Join(errs, "; "))
}

// composeModuleDir downloads Compose v2's module at version and returns its
// directory in the module cache.
func composeModuleDir(ctx context.Context, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", composeV2Module+"@"+version)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	// Why outside the module: tarsup's go.mod must not learn of compose.
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", composeV2Module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", composeV2Module, version, err, out)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in %s", composeV2Module, version, out)
	}
	return info.Dir, nil
}

// copyTree copies the regular files and directories under src to dst, writable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
