package engine

import (
	"archive/tar"
	"bytes"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageArchive reads the archive back as `docker load` would: the
// tagged image, its config (entrypoint, label, platform) and one layer with
// one executable file.
func TestImageArchive(t *testing.T) {
	bin := []byte("\x7fELF pretend binary")
	archive, err := ImageArchive("tarsup-probe:0123456789abcdef", "tarsup", bin, []string{"/tarsup"}, "tarsup.probe")
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("tarsup-probe:0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil }, &tag)
	if err != nil {
		t.Fatalf("the archive has no image tagged %s: %v", tag, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !slices.Equal(cf.Config.Entrypoint, []string{"/tarsup"}) || cf.Config.Labels["tarsup.probe"] != "1" {
		t.Errorf("config: os %q arch %q entrypoint %v labels %v", cf.OS, cf.Architecture, cf.Config.Entrypoint, cf.Config.Labels)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 || len(cf.RootFS.DiffIDs) != 1 {
		t.Fatalf("layers %d (%v), diff IDs %v: want one", len(layers), err, cf.RootFS.DiffIDs)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tr)
	if h.Name != "tarsup" || h.Mode&0o111 == 0 || !bytes.Equal(got, bin) {
		t.Errorf("layer file %q mode %o, %d bytes: want tarsup, executable, the binary", h.Name, h.Mode, len(got))
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("the layer holds more than one file (%v)", err)
	}
}
