package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// logged is a runner whose log lines (and their fields) the test reads.
func logged(env ...string) (Runner, *bytes.Buffer) {
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetFormatter(&logrus.JSONFormatter{})
	return Runner{Log: l, Environ: func() []string { return append([]string{"PATH=" + os.Getenv("PATH")}, env...) }}, &buf
}

func shJob(cmd string) Job {
	st := plan.Step{Host: "unix:///var/run/docker.sock", Container: plan.Container{Name: "tars-node", ID: "c1", Role: "node"},
		From: "tarscloud/tars-node:latest", To: "tarscloud/tars-node:stable", Cause: "tag latest moved"}
	h := plan.Hook{When: plan.HookPreUpgrade, Name: "--pre-upgrade", Command: cmd, Argv: []string{"sh", "-c", cmd}}
	return Job{Hook: h, Input: st.HookInput(h, "", ""), Timeout: 10 * time.Second}
}

// TestHostEnvAndStdin: a hook on this machine inherits tarsup's
// environment, gets the step's TARSUP_* variables and reads the step as
// JSON on its standard input; each output line is logged, prefixed by
// the hook.
func TestHostEnvAndStdin(t *testing.T) {
	dir := t.TempDir()
	r, log := logged("OPERATOR=kept")
	err := r.Host(t.Context(), shJob(`env > `+dir+`/env; cat > `+dir+`/stdin; echo one; echo two >&2`))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	for _, want := range []string{"OPERATOR=kept", "TARSUP_HOOK=pre-upgrade", "TARSUP_HOST=unix:///var/run/docker.sock", "TARSUP_CONTAINER=tars-node",
		"TARSUP_ROLE=node", "TARSUP_FROM=tarscloud/tars-node:latest", "TARSUP_TO=tarscloud/tars-node:stable", "TARSUP_RESULT=\n"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	var in plan.HookInput
	data, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if err := json.Unmarshal(data, &in); err != nil || in.Container != "tars-node" || in.Hook != "pre-upgrade" || in.Cause != "tag latest moved" {
		t.Errorf("stdin %s (%v): want the step as JSON", data, err)
	}
	for _, want := range []string{`"msg":"--pre-upgrade (tars-node): one"`, `"msg":"--pre-upgrade (tars-node): two"`, `"hook":"pre-upgrade"`, `"container":"tars-node"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}

// TestHostFailure: a non-zero exit is a failure that names the hook and
// quotes its last lines.
func TestHostFailure(t *testing.T) {
	r, _ := logged()
	err := r.Host(t.Context(), shJob(`for i in $(seq 1 15); do echo line $i; done; exit 3`))
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err %v, want a *Failure", err)
	}
	if f.Reason != "exit status 3" || len(f.Last) != lastLines || f.Last[0] != "line 6" || f.Last[9] != "line 15" {
		t.Errorf("failure %q, last %q", f.Reason, f.Last)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, `pre-upgrade hook --pre-upgrade (sh -c "for i in`) || !strings.HasSuffix(msg, "\n  | line 15") {
		t.Errorf("message %q", msg)
	}
	if err := r.Host(t.Context(), shJob("exit 0")); err != nil {
		t.Errorf("exit 0: %v", err)
	}
}

// TestHostTimeoutKillsGroup: past its timeout a hook's whole process
// group is killed, a child it started in the background too, and the
// failure says so.
func TestHostTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	r, _ := logged()
	j := shJob(`sleep 300 & echo $! > ` + dir + `/child; echo started; trap '' TERM; wait`)
	j.Timeout = 300 * time.Millisecond
	err := r.Host(t.Context(), j)
	var f *Failure
	if !errors.As(err, &f) || !strings.Contains(f.Reason, "timed out after 300ms: its process group was killed") || len(f.Last) != 1 || f.Last[0] != "started" {
		t.Fatalf("err %v, want a timeout that quotes its output", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "child"))
	pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if perr != nil {
		t.Fatalf("child pid %q: %v", data, perr)
	}
	// The child was the shell's, not this test's: once killed it is gone
	// (reaped by init), or a zombie at most.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the hook's child %d still runs after the timeout: %s", pid, stat)
		}
	}
}

// TestRedact: the values of secret variables, tarsup's own and the
// containers', never reach the log nor the failure.
func TestRedact(t *testing.T) {
	r, log := logged("TARSUP_HTTP_TOKEN=tok-123456", "api_key=k3y-value", "HARMLESS=visible")
	j := shJob(`echo "token tok-123456 db tars2015 key k3y-value harmless visible"; exit 1`)
	j.Env = [][]string{{"MYSQL_ROOT_PASSWORD=tars2015", "SOME_SECRET="}}
	err := r.Host(t.Context(), j)
	for where, text := range map[string]string{"log": log.String(), "failure": fmt.Sprint(err)} {
		for _, secret := range []string{"tok-123456", "tars2015", "k3y-value"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s echoes %q:\n%s", where, secret, text)
			}
		}
		if !strings.Contains(text, "token *** db *** key *** harmless visible") {
			t.Errorf("%s: want the line redacted, the rest kept:\n%s", where, text)
		}
	}
	if got := Secrets([]string{"A_KEY=ab", "B_TOKEN=abcd", "PASSWORD", "X=y"}); strings.Join(got, ",") != "abcd,ab" {
		t.Errorf("secrets %q, want the longest first", got)
	}
}

// TestSinkCutLine: a line too long is cut, and a secret the cut splits
// is not half shown.
func TestSinkCutLine(t *testing.T) {
	var got []string
	s := &sink{secrets: []string{"s3cr3tvalue"}, log: func(l string) { got = append(got, l) }}
	long := strings.Repeat("x", maxLine-4) + "s3cr3tvalue and more\nnext\npartial"
	_, _ = s.Write([]byte(long))
	s.flush()
	if len(got) != 3 || !strings.HasSuffix(got[0], "x*** [cut]") || strings.Contains(got[0], "s3cr") || got[1] != "next" || got[2] != "partial" {
		t.Errorf("lines %q", got)
	}
}

// fakeExecer answers one exec: its output and exit code, or it hangs.
type fakeExecer struct {
	out     string
	code    int
	hang    bool
	created container.ExecOptions
}

func (f *fakeExecer) ContainerExecCreate(_ context.Context, _ string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.created = o
	return container.ExecCreateResponse{ID: "e1"}, nil
}

func (f *fakeExecer) ContainerExecAttach(context.Context, string, container.ExecAttachOptions) (types.HijackedResponse, error) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		if f.hang {
			_, _ = server.Read(make([]byte, 1))
			return
		}
		_, _ = stdcopy.NewStdWriter(server, stdcopy.Stderr).Write([]byte(f.out))
	}()
	return types.NewHijackedResponse(client, ""), nil
}

func (f *fakeExecer) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{Running: f.hang, ExitCode: f.code, Pid: 77}, nil
}

// TestExec: a hook inside a container is exec'd with the step's
// variables, its output logged; a non-zero exit and a timeout fail it.
func TestExec(t *testing.T) {
	j := shJob("")
	j.Hook = plan.Hook{When: plan.HookPreStop, Name: "label tarsup.hook.pre-stop", Argv: []string{"/bin/drain", "--now"}, InContainer: true}
	j.Env = [][]string{{"MYSQL_ROOT_PASSWORD=tars2015"}}
	r, log := logged()
	f := &fakeExecer{out: "draining with tars2015\ndone\n"}
	if err := r.Exec(t.Context(), f, "c1", j); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.created.Cmd, " ") != "/bin/drain --now" || !strings.Contains(strings.Join(f.created.Env, " "), "TARSUP_CONTAINER=tars-node") || !f.created.AttachStdout || !f.created.AttachStderr {
		t.Errorf("exec %+v", f.created)
	}
	if !strings.Contains(log.String(), "label tarsup.hook.pre-stop (tars-node): draining with ***") || strings.Contains(log.String(), "tars2015") {
		t.Errorf("log:\n%s", log)
	}
	f = &fakeExecer{out: "no\n", code: 126}
	if err := r.Exec(t.Context(), f, "c1", j); err == nil || !strings.Contains(err.Error(), "exit status 126") {
		t.Errorf("err %v, want exit status 126", err)
	}
	j.Timeout = 100 * time.Millisecond
	f = &fakeExecer{hang: true}
	if err := r.Exec(t.Context(), f, "c1", j); err == nil || !strings.Contains(err.Error(), "timed out after 100ms") || !strings.Contains(err.Error(), "PID 77") {
		t.Errorf("err %v, want a timeout naming the PID", err)
	}
}
