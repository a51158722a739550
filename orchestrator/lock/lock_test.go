package lock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tarsup/tarsup/fault"
)

// holderEnv makes the test binary, re-executed, hold a lock until killed.
const holderEnv = "TARSUP_TEST_LOCK_HOLDER"

// TestLockHolderProcess is not a test: it is the second process of
// TestLockHeldByAnotherProcess, started from the test binary.
func TestLockHolderProcess(t *testing.T) {
	path := os.Getenv(holderEnv)
	if path == "" {
		t.Skip("helper process: runs only when re-executed by TestLockHeldByAnotherProcess")
	}
	l, err := AcquireLock(path, os.Getenv)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	_ = l // never released: the kernel drops the lock when the process is killed
	fmt.Println("locked")
	select {}
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tarsup.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), holderEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder process said %q (%v)", line, err)
	}

	_, err = AcquireLock(path, os.Getenv)
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second run got %v, want a *LockedError", err)
	}
	if locked.PID != cmd.Process.Pid || locked.Path != path {
		t.Errorf("LockedError names PID %d and %s, want PID %d and %s", locked.PID, locked.Path, cmd.Process.Pid, path)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("PID %d", cmd.Process.Pid)) {
		t.Errorf("message does not name the lock file and the holder: %s", msg)
	}
	if !errors.Is(err, fault.Locked) || fault.ExitCode(err) != fault.ExitBadInput {
		t.Errorf("%v should match fault.Locked (exit 2)", err)
	}

	// A run killed with SIGKILL cannot clean up; the kernel drops its lock.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := AcquireLock(path, os.Getenv)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestLockTwoDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	first, err := AcquireLock(path, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q (%v), want this PID", data, err)
	}
	// flock locks belong to open file descriptions: a second open in the
	// same process conflicts, as a second process would.
	if _, err := AcquireLock(path, os.Getenv); !errors.Is(err, fault.Locked) {
		t.Fatalf("second lock: %v, want fault.Locked", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the lock file should stay after release: %v", err)
	}
	again, err := AcquireLock(path, os.Getenv)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer again.Release()
}

func TestLockFirstUsableDirectory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "tarsup.lock")
	notDir := filepath.Join(dir, "file", "tarsup.lock")
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "tarsup.lock")
	second := filepath.Join(t.TempDir(), "tarsup.lock")

	l, err := lockFirst([]string{missing, notDir, good, second})
	if err != nil {
		t.Fatal(err)
	}
	if l.Path != good {
		t.Errorf("locked %s, want the first usable %s", l.Path, good)
	}
	// Held: a second run must stop there, not move on to the next path.
	if _, err := lockFirst([]string{missing, good, second}); !errors.Is(err, fault.Locked) {
		t.Errorf("with %s held: %v, want fault.Locked", good, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}

	_, err = lockFirst([]string{missing, notDir})
	if !errors.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "--lock") {
		t.Errorf("no usable place: %v, want fault.BadInput naming --lock", err)
	}
}

func TestLockDoesNotFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "tarsup.lock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if l, err := AcquireLock(link, os.Getenv); err == nil {
		l.Release()
		t.Fatal("locked through a symlink")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep me\n" {
		t.Errorf("the symlink's target was written: %q", data)
	}
}

func TestDefaultLockPaths(t *testing.T) {
	got := DefaultLockPaths(fakeEnv(map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}))
	want := []string{"/run/lock/tarsup.lock", "/run/user/1000/tarsup.lock", "/tmp/tarsup.lock"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	got = DefaultLockPaths(fakeEnv(map[string]string{"TMPDIR": "/var/tmp"}))
	want = []string{"/run/lock/tarsup.lock", "/var/tmp/tarsup.lock"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func fakeEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
