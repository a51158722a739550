package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tarsup/tarsup/tests/testbed"
)

// printer writes the demo's output: numbered headings, prose, commands.
type printer struct {
	out  io.Writer
	step int
}

// heading starts the next step.
func (p *printer) heading(title string) {
	p.step++
	fmt.Fprintf(p.out, "\n== %d. %s\n\n", p.step, title)
}

// say writes paragraphs of prose, each line as given.
func (p *printer) say(lines ...string) {
	for _, l := range lines {
		fmt.Fprintln(p.out, l)
	}
}

// runTarsup runs the tarsup binary bin with args, the command line shown
// first, its stdout and stderr passed through as they come, and returns
// what it printed and its exit code. A run whose exit code is not want is
// an error. SIGINT/SIGTERM to the demo reach tarsup as SIGINT, so that it
// finishes the step under way as it does for a user's Ctrl-C.
func (p *printer) runTarsup(ctx context.Context, bin string, want int, args ...string) (string, error) {
	fmt.Fprintf(p.out, "$ %s\n", shellJoin(append([]string{displayPath(bin)}, args...)))
	var buf bytes.Buffer
	w := io.MultiWriter(p.out, &buf)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute
	err := cmd.Run()
	code := -1
	var exit *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &exit) && exit.Exited():
		code = exit.ExitCode()
	default:
		return buf.String(), fmt.Errorf("run %s: %w", bin, err)
	}
	fmt.Fprintf(p.out, "(exit %d)\n", code)
	if ctx.Err() != nil {
		return buf.String(), fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if code != want {
		return buf.String(), fmt.Errorf("tarsup %s exited %d, where the demo expects %d (its output is above)", args[0], code, want)
	}
	return buf.String(), nil
}

// displayPath is how a command line names bin: ./bin/tarsup for a relative
// path, so that it can be pasted into a shell.
func displayPath(bin string) string {
	if filepath.IsAbs(bin) || strings.HasPrefix(bin, "./") || strings.HasPrefix(bin, "../") {
		return bin
	}
	return "./" + bin
}

// shellJoin quotes words for a POSIX shell where they need it.
func shellJoin(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// labContainer is one container of the lab as the engine has it.
type labContainer struct {
	ID, Name, Image, Version, Build, IP, State string
}

// snapshot maps the lab's container names to what runs under them.
type snapshot map[string]labContainer

// observe lists the lab's containers on e (temporary names included).
func observe(ctx context.Context, e *testbed.Engine) (snapshot, error) {
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: labFilter()})
	if err != nil {
		return nil, fmt.Errorf("list the lab's containers on %s: %w", e.Host, err)
	}
	s := snapshot{}
	for _, c := range list {
		if len(c.Names) == 0 || !isLab(c.Names[0], c.Labels) {
			continue
		}
		// Why inspect: the list names the image by ID once its tag moved on.
		in, err := e.Client.ContainerInspect(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("inspect %s on %s: %w", c.Names[0], e.Host, err)
		}
		lc := labContainer{ID: c.ID, Name: strings.TrimPrefix(c.Names[0], "/"), Image: in.Config.Image,
			Version: c.Labels[testbed.VersionLabel], Build: c.Labels[buildLabel], State: c.State}
		if in.NetworkSettings != nil {
			if ep := in.NetworkSettings.Networks[netName]; ep != nil {
				lc.IP = ep.IPAddress
			}
		}
		s[lc.Name] = lc
	}
	return s, nil
}

// table writes the lab's containers, and for each how it compares with
// before (nil: the first look): kept (the same container), recreated (a
// new container under the name) or new.
func (p *printer) table(now, before snapshot, registry string) {
	names := make([]string, 0, len(now))
	for n := range now {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return order(names[i]) < order(names[j]) })
	tw := tabwriter.NewWriter(p.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CONTAINER\tADDRESS\tIMAGE\tVERSION\tSTATE\tID\t")
	for _, n := range names {
		c := now[n]
		img := strings.TrimPrefix(c.Image, registry+"/"+repoPrefix)
		change := ""
		if before != nil {
			change = compare(c, before[n])
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, c.IP, img, c.Version, c.State, short(c.ID), change)
	}
	tw.Flush()
}

// compare says how container c differs from what was under its name before.
func compare(c, was labContainer) string {
	switch {
	case was.ID == "":
		return "new"
	case was.ID == c.ID:
		return "kept"
	case was.Version != c.Version:
		return fmt.Sprintf("recreated (was %s, %s)", short(was.ID), was.Version)
	default:
		return fmt.Sprintf("recreated (was %s, build %s)", short(was.ID), was.Build)
	}
}

// order sorts names as the lab runs: database, master, slave, nodes; a
// swap's temporary names after their service.
func order(name string) string {
	for i, n := range containerNames() {
		if baseName(name) == n {
			return fmt.Sprintf("%02d %s", i, name)
		}
	}
	return "99 " + name
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
