package engine

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageArchive writes a `docker save` archive of a one-layer image holding
// one executable file, labelled with label=1. Why go-containerregistry: the
// archive's manifest, config and diff IDs are its to get right; only the
// layer's one file is written here (its mode must be executable, which
// crane.Layer does not set).
func ImageArchive(ref, file string, bin []byte, entrypoint []string, label string) ([]byte, error) {
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	if err := lw.WriteHeader(&tar.Header{Name: file, Mode: 0o755, Size: int64(len(bin)), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, fmt.Errorf("probe image layer: %w", err)
	}
	if _, err := lw.Write(bin); err != nil {
		return nil, fmt.Errorf("probe image layer: %w", err)
	}
	if err := lw.Close(); err != nil {
		return nil, fmt.Errorf("probe image layer: %w", err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		return nil, fmt.Errorf("probe image layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, fmt.Errorf("probe image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("probe image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	cf.Config.Entrypoint, cf.Config.Labels = entrypoint, map[string]string{label: "1"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("probe image config: %w", err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return nil, fmt.Errorf("probe image %s: %w", ref, err)
	}
	var out bytes.Buffer
	if err := tarball.Write(tag, img, &out); err != nil {
		return nil, fmt.Errorf("probe image archive: %w", err)
	}
	return out.Bytes(), nil
}
