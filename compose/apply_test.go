package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planFramework loads a project of two files (compose.yaml and .env, the
// framework's tag in .env, the node's image in compose.yaml) with the given
// modes and plans a change of both images.
func planFramework(t *testing.T, composeMode, envMode os.FileMode) (string, []FileEdit) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n  node:\n    image: tarscloud/tars-node:latest # node\n",
		".env":         "TARS_VERSION=v3.0.15\n",
	})
	chmod(t, filepath.Join(dir, "compose.yaml"), composeMode)
	chmod(t, filepath.Join(dir, ".env"), envMode)
	p, _, err := loadFilesIn(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	edits, err := PlanImageEdits(p, map[string]string{"framework": "tarscloud/framework:v3.0.16", "node": "tarscloud/tars-node:full"})
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) != 2 {
		t.Fatalf("%d edits, want 2 (compose.yaml and .env)", len(edits))
	}
	return dir, edits
}

func loadFilesIn(t *testing.T, dir string) (*Project, string, error) {
	t.Helper()
	p, err := Load(t.Context(), Options{Files: []string{filepath.Join(dir, "compose.yaml")}, Environ: []string{}})
	return p, dir, err
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// checkFiles fails unless each edit's file holds the content chosen by pick
// and has the edit's mode, and the directory holds no temporary file.
func checkFiles(t *testing.T, dir string, edits []FileEdit, pick func(FileEdit) []byte) {
	t.Helper()
	for _, e := range edits {
		got, err := os.ReadFile(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(pick(e)) {
			t.Errorf("%s holds:\n%s\nwant:\n%s", e.Path, got, pick(e))
		}
		fi, err := os.Stat(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != e.Mode {
			t.Errorf("%s has mode %v, want %v", e.Path, fi.Mode().Perm(), e.Mode)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tarsup-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func newBytes(e FileEdit) []byte { return e.New }
func oldBytes(e FileEdit) []byte { return e.Old }

func TestApplyAndRestoreKeepModes(t *testing.T) {
	tests := []struct {
		name                 string
		composeMode, envMode os.FileMode
	}{
		{name: "0644 and 0600", composeMode: 0o644, envMode: 0o600},
		{name: "0640 and 0444", composeMode: 0o640, envMode: 0o444},
		{name: "0664 and 0660", composeMode: 0o664, envMode: 0o660},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, edits := planFramework(t, tt.composeMode, tt.envMode)
			if edits[0].Mode != tt.composeMode || edits[1].Mode != tt.envMode {
				t.Fatalf("planned modes %v %v, want %v %v", edits[0].Mode, edits[1].Mode, tt.composeMode, tt.envMode)
			}
			if err := Apply(edits); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			checkFiles(t, dir, edits, newBytes)
			// Apply is idempotent: a second run finds New and leaves it.
			if err := Apply(edits); err != nil {
				t.Fatalf("second Apply: %v", err)
			}
			if err := Restore(edits); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			checkFiles(t, dir, edits, oldBytes)
		})
	}
}

func TestApplyRefusesAFileChangedSinceLoad(t *testing.T) {
	dir, edits := planFramework(t, 0o644, 0o644)
	changed := "TARS_VERSION=v3.0.15\nEXTRA=1\n"
	if err := os.WriteFile(edits[1].Path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Apply(edits)
	if err == nil || !strings.Contains(err.Error(), edits[1].Path) || !strings.Contains(err.Error(), "changed since it was loaded") {
		t.Fatalf("Apply error = %v, want one naming %s as changed", err, edits[1].Path)
	}
	// Nothing was written: not the changed file, nor the one before it.
	got, _ := os.ReadFile(edits[1].Path)
	if string(got) != changed {
		t.Errorf("%s was overwritten", edits[1].Path)
	}
	checkFiles(t, dir, edits[:1], oldBytes)
}

func TestRestore(t *testing.T) {
	tests := []struct {
		name string
		// after changes the files after Apply; it returns the content the
		// .env file must hold after Restore.
		after   func(t *testing.T, edits []FileEdit) string
		wantErr string
	}{
		{
			name:  "byte for byte",
			after: func(t *testing.T, edits []FileEdit) string { return string(edits[1].Old) },
		},
		{
			name: "a deleted file is recreated",
			after: func(t *testing.T, edits []FileEdit) string {
				if err := os.Remove(edits[1].Path); err != nil {
					t.Fatal(err)
				}
				return string(edits[1].Old)
			},
		},
		{
			name: "a file someone changed after Apply is left alone, the others restored",
			after: func(t *testing.T, edits []FileEdit) string {
				if err := os.WriteFile(edits[1].Path, []byte("TARS_VERSION=v9\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return "TARS_VERSION=v9\n"
			},
			wantErr: "the file changed after tarsup wrote it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, edits := planFramework(t, 0o640, 0o600)
			if err := Apply(edits); err != nil {
				t.Fatal(err)
			}
			wantEnv := tt.after(t, edits)
			err := Restore(edits)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), edits[1].Path)) {
				t.Fatalf("Restore error = %v, want one naming %s: %s", err, edits[1].Path, tt.wantErr)
			}
			checkFiles(t, dir, edits[:1], oldBytes)
			if got, _ := os.ReadFile(edits[1].Path); string(got) != wantEnv {
				t.Errorf(".env holds %q, want %q", got, wantEnv)
			}
		})
	}
}

func TestApplyThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"real/compose.yaml": "services:\n  node:\n    image: tarscloud/tars-node:latest\n"})
	link := filepath.Join(dir, "compose.yaml")
	if err := os.Symlink(filepath.Join("real", "compose.yaml"), link); err != nil {
		t.Fatal(err)
	}
	p, _, err := loadFilesIn(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	edits, err := PlanImageEdits(p, map[string]string{"node": "tarscloud/tars-node:full"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(edits); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symlink (%v)", link, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "real", "compose.yaml"))
	if want := "services:\n  node:\n    image: tarscloud/tars-node:full\n"; string(got) != want {
		t.Errorf("target holds %q, want %q", got, want)
	}
}
