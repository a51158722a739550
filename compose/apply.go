package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Apply writes each edit's New bytes, atomically per file (a temporary file
// in the same directory, fsync, rename) and keeping the file's mode. A file
// that already holds New is left alone; a file that holds neither Old nor
// New changed since it was loaded, and Apply refuses to overwrite it. When a
// write fails, Apply puts back the files it already wrote and returns the
// error.
func Apply(edits []FileEdit) error {
	// Check every file first, so a conflict on the second file does not
	// leave the first one written.
	for _, e := range edits {
		cur, err := os.ReadFile(e.Path)
		if err != nil {
			return fmt.Errorf("apply edit to %s: %w", e.Path, err)
		}
		if !bytes.Equal(cur, e.Old) && !bytes.Equal(cur, e.New) {
			return fmt.Errorf("apply edit to %s: the file changed since it was loaded; load the project again and re-plan", e.Path)
		}
	}
	for i, e := range edits {
		cur, err := os.ReadFile(e.Path)
		if err == nil && bytes.Equal(cur, e.New) {
			continue
		}
		if err := writeAtomic(e.Path, e.New, e.Mode); err != nil {
			err = fmt.Errorf("apply edit to %s: %w", e.Path, err)
			if rerr := Restore(edits[:i]); rerr != nil {
				return errors.Join(err, fmt.Errorf("undo the edits already written: %w", rerr))
			}
			return err
		}
	}
	return nil
}

// Restore writes each edit's Old bytes back, atomically per file and keeping
// the file's mode: the rollback of Apply, byte for byte. A file that already
// holds Old is left alone; a missing file is recreated. A file that holds
// neither Old nor New was changed by someone else after Apply: Restore does
// not overwrite it, goes on with the others, and reports it in the error.
func Restore(edits []FileEdit) error {
	var errs []error
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		cur, err := os.ReadFile(e.Path)
		switch {
		case err == nil && bytes.Equal(cur, e.Old):
			continue
		case err == nil && !bytes.Equal(cur, e.New):
			errs = append(errs, fmt.Errorf("restore %s: the file changed after tarsup wrote it; not overwriting it: compare it with the diff tarsup printed and fix it by hand", e.Path))
			continue
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("restore %s: %w", e.Path, err))
			continue
		}
		if err := writeAtomic(e.Path, e.Old, e.Mode); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", e.Path, err))
		}
	}
	return errors.Join(errs...)
}

// writeAtomic replaces path with data so that a reader sees the old file or
// the new one, never a mix, and a crash leaves one of the two. A symlink is
// followed: its target is replaced, the link stays.
func writeAtomic(path string, data []byte, mode os.FileMode) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tarsup-*")
	if err != nil {
		return fmt.Errorf("create a temporary file next to it (is %s writable?): %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	// Chmod after creation: CreateTemp uses 0600 and the umask would
	// trim a mode passed at creation.
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	keepOwner(tmp, path)
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	// Why sync the directory: the rename is durable only once the
	// directory entry is on disk.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
