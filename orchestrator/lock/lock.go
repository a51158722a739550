// Package lock keeps two tarsups from changing the same thing at once: the
// run lock (a flock on one machine), the engine lock (a never-started
// container per engine), each labelled with its owner.Owner.
package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tarsup/tarsup/fault"
	"golang.org/x/sys/unix"
)

// LockName is the file name of the default run lock.
const LockName = "tarsup.lock"

// LockedError says which file is locked and, when it could be read, by which
// process.
type LockedError struct {
	Path string
	// PID is the holder's process ID as it wrote it into the file; 0 when
	// unknown (the holder had not written it yet, or the file is not readable).
	PID int
}

func (e *LockedError) Error() string {
	holder := "a process whose PID is not recorded"
	if e.PID > 0 {
		holder = "PID " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("another tarsup run holds the lock %s (%s): nothing was changed; wait for it to finish (a lock left by a killed run is released by the kernel), or use another --lock only if the runs touch different engines", e.Path, holder)
}

// Unwrap lets errors.Is match fault.Locked (exit 2).
func (e *LockedError) Unwrap() error { return fault.Locked }

// Lock is a held run lock: an flock(2) on an open file. Why flock: the kernel
// drops it when the process dies, however it dies (kill -9, OOM, reboot), so
// a lock left by a killed run never blocks the next one, and no stale-PID
// guessing is needed. The file itself stays: removing it would let two runs
// lock two different files of the same name.
type Lock struct {
	// Path is the lock file.
	Path string
	f    *os.File
}

// DefaultLockPaths lists where the run lock lives when --lock is not given,
// in order of preference: /run/lock/tarsup.lock, then
// $XDG_RUNTIME_DIR/tarsup.lock, then tarsup.lock in the temporary directory
// ($TMPDIR or /tmp). The first whose directory takes the file is used.
func DefaultLockPaths(getenv func(string) string) []string {
	paths := []string{filepath.Join("/run/lock", LockName)}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		paths = append(paths, filepath.Join(d, LockName))
	}
	tmp := getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	return append(paths, filepath.Join(tmp, LockName))
}

// AcquireLock takes the run lock without waiting. With path "" it tries the
// DefaultLockPaths in turn, moving on only when a directory is missing or
// not writable; a named path is used as it is. When another process holds
// the lock it returns a *LockedError at once.
func AcquireLock(path string, getenv func(string) string) (*Lock, error) {
	if path != "" {
		return lockFile(path)
	}
	return lockFirst(DefaultLockPaths(getenv))
}

// lockFirst locks the first of paths whose directory takes the file. A held
// lock never moves it on to the next path: that would let two runs through.
func lockFirst(paths []string) (*Lock, error) {
	var errs []error
	for _, p := range paths {
		l, err := lockFile(p)
		if err == nil {
			return l, nil
		}
		var locked *LockedError
		if errors.As(err, &locked) || !unusableDir(err) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, fault.Mark(fault.BadInput, fmt.Errorf("no place for the run lock: %w; name a writable file with --lock", errors.Join(errs...)))
}

// unusableDir reports whether an open failed because of where the file is,
// not because of the lock: the next default place may do.
func unusableDir(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) || errors.Is(err, unix.ENOTDIR)
}

// lockFile opens (creating) path and locks it. O_NOFOLLOW: in a shared
// temporary directory another user's symlink must not make tarsup write
// into a file it points at.
func lockFile(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, fs.ErrPermission) {
		// Why read-only: a lock file another user created (0644 in a
		// sticky /run/lock) can still be locked, and so still excludes.
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open the run lock %s: %w", path, err)
	}
	if err := flock(f); err != nil {
		pid := readPID(f)
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, PID: pid}
		}
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("lock %s: %w (is it on a file system without flock, such as some network mounts? name a local file with --lock)", path, err))
	}
	l := &Lock{Path: path, f: f}
	l.writePID()
	return l, nil
}

// flock takes an exclusive lock without waiting, retrying on EINTR.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// writePID records the holder for the message a second run prints. It is
// best effort: a read-only lock file still locks.
func (l *Lock) writePID() {
	if err := l.f.Truncate(0); err != nil {
		return
	}
	_, _ = l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Release drops the lock. The file stays (see Lock). Releasing twice is harmless.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Empty the PID first so that nobody blames a finished run.
	_ = f.Truncate(0)
	if err := f.Close(); err != nil { // closing the last descriptor drops the flock
		return fmt.Errorf("release the run lock %s: %w", l.Path, err)
	}
	return nil
}
