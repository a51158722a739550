package tarsdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// LabelClient marks tarsup's database client containers. They also carry
// plan.LabelProbe (so observation, status and the listing fingerprint leave
// them out, and the engine lock's sweep removes those of a tarsup that is
// gone), tarsup.role=ignore, and the owner labels.
const LabelClient = "tarsup.dbclient"

// Tool is which program a client container runs.
type Tool int

// The tools. Each is found in the image under its MariaDB name, else its
// MySQL one.
const (
	// Shell is mariadb, else mysql: statements on stdin.
	Shell Tool = iota
	// Dumper is mariadb-dump, else mysqldump: the dump on stdout.
	Dumper
)

// names returns the tool's MariaDB and MySQL program names.
func (tool Tool) names() (string, string) {
	if tool == Dumper {
		return "mariadb-dump", "mysqldump"
	}
	return "mariadb", "mysql"
}

// pickTool is the client containers' entrypoint script: it reads the
// password from the first line of stdin into MYSQL_PWD (the shell reads a
// pipe byte by byte, so the rest stays for the client), then runs the first
// of two program names the image has, with the container's arguments; 127
// when it has neither. Why stdin and not the container's environment: a
// client container left behind (a tarsup killed between its create and its
// start) would show the password to anyone who can `docker inspect`.
const pickTool = `IFS= read -r MYSQL_PWD || exit 126; export MYSQL_PWD; ` +
	`if command -v "$1" >/dev/null 2>&1; then p="$1"; elif command -v "$2" >/dev/null 2>&1; then p="$2"; ` +
	`else echo "tarsdb: neither $1 nor $2 is in this image" >&2; exit 127; fi; shift 2; exec "$p" "$@"`

// Client runs database clients in short-lived containers on one engine.
type Client struct {
	// Engine is the engine the target was located on.
	Engine engine.Engine
	// Self names this tarsup process on the client containers' labels.
	Self owner.Owner
	// Timeout bounds one client container's run; zero means none (the ctx
	// still bounds it).
	Timeout time.Duration
}

// NewClient returns a Client on eng for this process.
func NewClient(eng engine.Engine) *Client {
	return &Client{Engine: eng, Self: owner.ThisProcess()}
}

// removeTimeout bounds the removal of a client container, done with a fresh
// context so that a cancelled run still removes it.
const removeTimeout = 15 * time.Second

// Run runs tool with the target's connection options and then args in a
// client container: created from t.Image with the entrypoint replaced, the
// password in MYSQL_PWD only, in t.NetworkMode, never restarted, removed
// when it ends (also when ctx is cancelled). stdin (nil for none) is
// streamed to it and its stdout to stdout; its stderr, with the password
// scrubbed, is in the error when it exits non-zero.
func (c *Client) Run(ctx context.Context, t Target, tool Tool, args []string, stdin io.Reader, stdout io.Writer) error {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	err := c.run(ctx, t, tool, args, stdin, stdout)
	return scrubErr(err, t.password)
}

// run is Run without the password scrubbed from its error.
func (c *Client) run(ctx context.Context, t Target, tool Tool, args []string, stdin io.Reader, stdout io.Writer) error {
	prog, _ := tool.names()
	if t.Image == "" || t.NetworkMode == "" {
		return fault.Mark(fault.BadInput, fmt.Errorf("%s: %s: the target was not located (use tarsdb.Locate)", prog, t))
	}
	if strings.ContainsAny(t.password, "\n\r") {
		return fault.Mark(fault.BadInput, fmt.Errorf("%s: %s: the password has a line break, which the database clients cannot be given; "+
			"set a password without one in %s", prog, t, t.PasswordVar))
	}
	cfg, hc := c.createRequest(t, tool, args)
	// Why a context the caller's cancel does not end: the engine may create
	// the container after the client gave up, and then nothing would know
	// its ID to remove it (the sweep would, later, by the labels).
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	created, err := c.Engine.ContainerCreate(cctx, cfg, hc, &network.NetworkingConfig{}, nil, "")
	ccancel()
	if err != nil {
		return fmt.Errorf("%s for %s: create the client container from %s: %w", prog, t, t.Image, err)
	}
	defer c.remove(ctx, created.ID)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s for %s: %w", prog, t, err)
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stderr bytes.Buffer
	code, err := c.stream(ctx, created.ID, io.MultiReader(strings.NewReader(t.password+"\n"), stdin), stdout, &stderr)
	if err != nil {
		return fmt.Errorf("%s for %s: %w", prog, t, err)
	}
	if code != 0 {
		return exitError(t, tool, code, stderr.String())
	}
	return nil
}

// createRequest is the client container's configuration. Its stdin always
// opens: the password is its first line.
func (c *Client) createRequest(t Target, tool Tool, args []string) (*container.Config, *container.HostConfig) {
	mariadb, mysql := tool.names()
	conn := []string{mariadb, mysql, "--protocol=TCP", "-h" + t.Addr, "-P" + t.Port, "-u" + t.User}
	cfg := &container.Config{
		Image:      t.Image,
		Entrypoint: []string{"sh", "-c", pickTool, "tarsdb"},
		Cmd:        append(conn, args...),
		Labels: map[string]string{
			LabelClient: "1", plan.LabelProbe: "db-client", images.RoleLabel: string(images.RoleIgnore),
			plan.LabelTxnOwner: c.Self.String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339),
		},
		AttachStdout: true, AttachStderr: true,
		AttachStdin: true, OpenStdin: true, StdinOnce: true,
		// Why empty: the database image's own HEALTHCHECK, volumes and
		// working directory are not the client's business.
		Healthcheck: &container.HealthConfig{Test: []string{"NONE"}},
		WorkingDir:  "/",
	}
	hc := &container.HostConfig{
		NetworkMode:   container.NetworkMode(t.NetworkMode),
		AutoRemove:    true,
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		// Why no log: the output (a whole dump, the node rows) is streamed
		// to tarsup; the engine's log driver (json-file on disk, or one that
		// ships logs off the machine) must not keep a copy of the data.
		LogConfig: container.LogConfig{Type: "none"},
	}
	return cfg, hc
}

// stream attaches to the created container, starts it, copies stdin in and
// its output out, and returns its exit code. A cancelled ctx closes the
// stream; the caller's removal then kills the container.
func (c *Client) stream(ctx context.Context, id string, stdin io.Reader, stdout, stderr io.Writer) (int64, error) {
	att, err := c.Engine.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: stdin != nil, Stdout: true, Stderr: true})
	if err != nil {
		return 0, fmt.Errorf("attach to the client container: %w", err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	waitC, errC := c.Engine.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err := c.Engine.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		if strings.Contains(err.Error(), "executable file not found") {
			// Why say it this way: the engine's runc message hides that the
			// database's image lacks the shell and client tarsup runs in it.
			return 0, fmt.Errorf("the database image has no sh and mariadb/mysql client to run (is it a MySQL or MariaDB image?): %w", err)
		}
		return 0, fmt.Errorf("start the client container: %w", err)
	}
	in := &inputReader{r: stdin}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, in)
			// Why only now: the client's end of input is this close.
			_ = att.CloseWrite()
		}()
	}
	if _, err := stdcopy.StdCopy(stdout, stderr, att.Reader); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("read the client's output: %w", err)
	}
	select {
	case w := <-waitC:
		if w.Error != nil && w.Error.Message != "" {
			return 0, fmt.Errorf("wait for the client container: %s", w.Error.Message)
		}
		// A read error of the input is recorded before the client is told
		// its input ended, so before it could exit: no race here.
		if err := in.failed(); err != nil {
			return 0, fmt.Errorf("read the input for the client: %w", err)
		}
		return w.StatusCode, nil
	case err := <-errC:
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("wait for the client container: %w", err)
	}
}

// inputReader remembers a read error of the client's input, which io.Copy
// would not tell apart from a write error (the client gone).
type inputReader struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (r *inputReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}
	return n, err
}

func (r *inputReader) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// remove removes the client container with a fresh context: AutoRemove
// usually did already, and a cancelled run must not leave it behind. It
// waits until the container is gone. Why: a removal AutoRemove began may
// still be under way, and an operator's `docker ps -a` right after tarsup
// ends must not find the container.
func (c *Client) remove(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	// RemoveVolumes: the database image declares a VOLUME (/var/lib/mysql),
	// so the client gets an anonymous volume that AutoRemove would delete
	// but a plain removal that wins the race would leave behind.
	_ = c.Engine.ContainerRemove(rctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	waitC, errC := c.Engine.ContainerWait(rctx, id, container.WaitConditionRemoved)
	select {
	case <-waitC:
	case <-errC: // gone already (not found), or the engine does not answer
	case <-rctx.Done():
	}
}

// Error is a client that exited non-zero: its exit code and what it said
// (the password scrubbed).
type Error struct {
	Target Target
	Tool   Tool
	Code   int64
	Stderr string
}

// Error says which client failed for which target, what it said, and the fix.
func (e *Error) Error() string {
	prog, _ := e.Tool.names()
	msg := fmt.Sprintf("%s for %s exited %d", prog, e.Target, e.Code)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + lastLines(s, 5)
	}
	return msg + fix(e.Target, e.Code, e.Stderr)
}

// Access denied, and the errors of a server that cannot be reached.
var (
	accessDenied = regexp.MustCompile(`ERROR 1045|Got error: 1045|Access denied for user`)
	cannotReach  = regexp.MustCompile(`ERROR 200[2-6]|ERROR 2013|Got error: 200[2-6]|Can't connect|Unknown (MySQL|MariaDB) server host|Lost connection`)
)

// exitError classifies a non-zero exit: a refused password is bad input,
// a server that does not answer is unreachable (both exit 2).
func exitError(t Target, tool Tool, code int64, stderr string) error {
	e := &Error{Target: t, Tool: tool, Code: code, Stderr: scrub(stderr, t.password)}
	switch {
	case accessDenied.MatchString(stderr):
		return fault.Mark(fault.BadInput, e)
	case cannotReach.MatchString(stderr):
		return fault.Mark(fault.Unreachable, e)
	}
	return e
}

// fix says what to do about a failed client.
func fix(t Target, code int64, stderr string) string {
	switch {
	case code == 127:
		return fmt.Sprintf("; the image %s of %s has no MySQL client tools (mariadb, mysql, mariadb-dump, mysqldump)", or(t.DBImage, t.Image), or(t.DB, t.DBHost))
	case accessDenied.MatchString(stderr):
		v := t.PasswordVar
		if v == "" {
			v = "MYSQL_ROOT_PASSWORD (unset)"
		}
		return fmt.Sprintf("; the server refused user %s with the password in %s of framework %s: check that variable and MYSQL_USER", t.User, v, t.Framework)
	case cannotReach.MatchString(stderr):
		return fmt.Sprintf("; check that the server in %s listens on port %s (MYSQL_PORT of %s)", or(t.DB, t.DBHost), t.Port, t.Framework)
	}
	return ""
}

// scrub replaces every occurrence of the password in s.
func scrub(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "*****")
}

// scrubbed is an error whose message has the password replaced; it unwraps
// to the original, for errors.Is and fault kinds.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

func scrubErr(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &scrubbed{msg: scrub(err.Error(), password), err: err}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// IsAccessDenied reports whether err is a client the server refused.
func IsAccessDenied(err error) bool {
	var e *Error
	return errors.As(err, &e) && accessDenied.MatchString(e.Stderr)
}
