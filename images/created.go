package images

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// CreatedQuery names one image whose creation time Created reads: Ref's
// repository, at Digest when given (the digest a tag was found to point
// at), else at Ref's tag; for a multi-platform image, the image of Platform
// ("linux/amd64", "linux/arm64/v8"; "" means linux/amd64).
type CreatedQuery struct {
	Ref      Ref
	Digest   string
	Platform string
}

// Key names a query's result: its repository:tag (Ref.Key), and its
// platform when it has one. Why the platform: the images of one tag for
// two platforms are two images, built at two times; a fleet whose engines
// run both must judge each by its own age.
func (q CreatedQuery) Key() string {
	if q.Platform == "" {
		return q.Ref.Key()
	}
	return q.Ref.Key() + " " + q.Platform
}

// CreatedResult is the outcome of one creation-time look-up.
type CreatedResult struct {
	// Created is the config's "created"; zero when the config has none.
	Created time.Time
	// Err is the look-up's failure, or a "created" that does not parse.
	Err error
}

// Created reads the creation time of each query's image from its registry:
// the manifest (and, for a multi-platform index, the platform's manifest)
// and the config blob, never a layer. Each repository:tag (Ref.Key) is read
// once per platform, in parallel within the Registry's bound, with its
// credentials and retries; results are keyed by CreatedQuery.Key. A failure is reported in its result.
func (r *Registry) Created(ctx context.Context, queries []CreatedQuery) map[string]CreatedResult {
	out := make(map[string]CreatedResult, len(queries))
	st, err := r.state()
	if err != nil {
		for _, q := range queries {
			out[q.Key()] = CreatedResult{Err: err}
		}
		return out
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		seen = map[string]bool{}
	)
	for _, q := range queries {
		key := q.Key()
		if seen[key] {
			continue
		}
		seen[key] = true
		wg.Go(func() {
			var res CreatedResult
			release, err := st.acquire(ctx)
			if err != nil {
				res.Err = fmt.Errorf("read the creation time of %s: %w", q.Ref, err)
			} else {
				res.Created, res.Err = created(ctx, st, q)
				release()
			}
			mu.Lock()
			out[key] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func created(ctx context.Context, st *lookups, q CreatedQuery) (time.Time, error) {
	rr, err := q.Ref.remoteRef()
	if err != nil {
		return time.Time{}, err
	}
	if q.Digest != "" {
		rr = rr.Context().Digest(q.Digest)
	}
	opts := []remote.Option{remote.Reuse(st.puller), remote.WithContext(ctx)}
	if q.Platform != "" {
		p, err := v1.ParsePlatform(q.Platform)
		if err != nil {
			return time.Time{}, fmt.Errorf("platform %q of %s: %w", q.Platform, q.Ref, err)
		}
		opts = append(opts, remote.WithPlatform(*p))
	}
	img, err := remote.Image(rr, opts...)
	if err != nil {
		return time.Time{}, registryError("read the manifest of", q.Ref, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return time.Time{}, registryError("read the config of", q.Ref, err)
	}
	return ParseCreated(raw)
}

// ParseCreated reads "created" from an image config (RFC 3339); zero when
// there is none.
func ParseCreated(config []byte) (time.Time, error) {
	var cf struct {
		Created *string `json:"created"`
	}
	if err := json.Unmarshal(config, &cf); err != nil {
		return time.Time{}, fmt.Errorf("the image config does not parse: %w", err)
	}
	if cf.Created == nil || *cf.Created == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *cf.Created)
	if err != nil {
		return time.Time{}, fmt.Errorf("its config's created %q is not an RFC 3339 time", *cf.Created)
	}
	return t, nil
}
