// Package owner names a tarsup process (machine, PID, start time) as the
// labels of its engine locks, swaps and probe sidecars record it, and tells
// whether that process may still be at work (Owner.Live).
package owner

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Owner names a running tarsup process: machine, PID and the process's start
// time (so a reused PID is not mistaken for it). It is written on every
// container an upgrade creates, so that a second tarsup, here or on another
// machine, does not "recover" a swap that is still under way.
type Owner struct {
	Machine string
	PID     int
	Start   string // the process's start time in clock ticks since boot (/proc/PID/stat field 22)
}

// String is the label form: machine/pid/start.
func (o Owner) String() string { return fmt.Sprintf("%s/%d/%s", o.Machine, o.PID, o.Start) }

// ParseOwner reads the label form; ok is false for anything else.
func ParseOwner(s string) (Owner, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Owner{}, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return Owner{}, false
	}
	return Owner{Machine: parts[0], PID: pid, Start: parts[2]}, true
}

// ThisProcess describes the running process.
func ThisProcess() Owner {
	host, _ := os.Hostname()
	return Owner{Machine: host, PID: os.Getpid(), Start: ProcStart(os.Getpid())}
}

// ProcStart reads a process's start time from /proc; "" where there is none.
func ProcStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// StaleAfter is how long a swap journaled by a tarsup on another machine
// counts as possibly still under way; after that `recover` takes it over.
// It covers the default health timeout and monitor period several times.
const StaleAfter = 30 * time.Minute

// Live reports whether the swap an owner journaled at started may still be
// under way: its process is alive on this machine, or it belongs to another
// machine and is younger than StaleAfter.
func (o Owner) Live(self Owner, started time.Time, now time.Time) bool {
	if o.Machine == self.Machine {
		if o.PID == self.PID && o.Start == self.Start {
			return false // our own, from earlier in this run: nobody else is on it
		}
		return o.Start != "" && ProcStart(o.PID) == o.Start
	}
	return !started.IsZero() && now.Sub(started) < StaleAfter
}
