package hook

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// guardHelper is the variable that makes this test binary a tarsup that
// runs one hook (the hook's command is its value) and is then killed.
const guardHelper = "TARSUP_TEST_GUARD_HOOK"

// TestMain lets TestHostDiesWithTarsup run this binary as a tarsup that
// runs a hook.
func TestMain(m *testing.M) {
	if cmd := os.Getenv(guardHelper); cmd != "" {
		r := Runner{Environ: func() []string { return []string{"PATH=" + os.Getenv("PATH")} }}
		j := shJob(cmd)
		j.Timeout = time.Hour
		_ = r.Host(nil, j) //nolint:staticcheck // Host does not use its context
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHostDiesWithTarsup: a tarsup killed with SIGKILL during a hook (its
// timeout an hour away) leaves no process of the hook's group behind: the
// guard kills the hook and a child it left in the background, one that
// ignores SIGTERM too.
func TestHostDiesWithTarsup(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	hook := `(trap '' TERM; exec sleep 3600) & echo $! > ` + pids + `.tmp; echo $$ >> ` + pids + `.tmp; mv ` + pids + `.tmp ` + pids + `; sleep 3600`
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tarsup := exec.Command(self, "-test.run=^$")
	tarsup.Env = append(os.Environ(), guardHelper+"="+hook)
	if err := tarsup.Start(); err != nil {
		t.Fatal(err)
	}
	var hookPIDs []int
	for deadline := time.Now().Add(10 * time.Second); len(hookPIDs) == 0; time.Sleep(20 * time.Millisecond) {
		if data, err := os.ReadFile(pids); err == nil {
			for _, f := range strings.Fields(string(data)) {
				pid, _ := strconv.Atoi(f)
				hookPIDs = append(hookPIDs, pid)
			}
		}
		if time.Now().After(deadline) {
			_ = tarsup.Process.Kill()
			t.Fatal("the hook did not start")
		}
	}
	_ = tarsup.Process.Kill()
	_ = tarsup.Wait()
	for _, pid := range hookPIDs {
		for deadline := time.Now().Add(4 * killGrace); ; time.Sleep(20 * time.Millisecond) {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil || strings.Contains(string(stat), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d of the hook still runs after its tarsup was killed: %s", pid, stat)
			}
		}
	}
}
