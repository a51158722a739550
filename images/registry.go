package images

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tarsup/tarsup/fault"
)

// defaultConcurrency bounds the parallel lookups of Digests when
// Registry.Concurrency is not set.
const defaultConcurrency = 8

// Registry asks container registries about images without pulling them. The
// zero value is ready to use: it reads credentials from the Docker config and
// its credential helpers. Registries on 127.0.0.0/8 and localhost are spoken
// to in plain HTTP, as the Docker Engine does.
type Registry struct {
	// Keychain resolves credentials per registry; nil means
	// authn.DefaultKeychain (the Docker config and its credential helpers).
	Keychain authn.Keychain
	// Transport carries the HTTP requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Concurrency bounds how many lookups Digests runs at once; 0 means 8.
	Concurrency int
}

// DigestResult is the outcome of one repository:tag lookup by Digests.
type DigestResult struct {
	// Ref is the reference that was looked up (the first one given for its key).
	Ref Ref
	// Digest is the manifest digest the tag points to now ("sha256:…").
	Digest string
	// Err is the lookup's failure, classified like the error of Digest.
	Err error
}

func (r *Registry) options(ctx context.Context) []remote.Option {
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("tarsup"),
	}
	if r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	return opts
}

// Digest returns the digest of the manifest ref's tag points to now, asked
// with one manifest HEAD request (no download, and no pull counted by
// registries that limit them). For a multi-platform image this is the index
// digest, the one `docker pull` records in RepoDigests. A ref with only a
// digest is checked for existence and its digest returned.
func (r *Registry) Digest(ctx context.Context, ref Ref) (string, error) {
	p, err := remote.NewPuller(r.options(ctx)...)
	if err != nil {
		return "", fmt.Errorf("set up registry client for %s: %w", ref, err)
	}
	return head(ctx, p, ref)
}

func head(ctx context.Context, p *remote.Puller, ref Ref) (string, error) {
	rr, err := ref.remoteRef()
	if err != nil {
		return "", err
	}
	desc, err := p.Head(ctx, rr)
	if err != nil {
		return "", registryError("look up the digest of", ref, err)
	}
	return desc.Digest.String(), nil
}

// Digests looks up the current digest of every distinct repository:tag among
// refs, once each and in parallel (at most Concurrency at a time), sharing
// authentication per repository. The results are keyed by Ref.Key; a failed
// lookup is reported in its result, so that one missing tag does not hide the
// others. The error is non-nil only when ctx ended before every lookup did.
func (r *Registry) Digests(ctx context.Context, refs []Ref) (map[string]DigestResult, error) {
	p, err := remote.NewPuller(r.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("set up registry client for %d image references: %w", len(refs), err)
	}
	limit := r.Concurrency
	if limit <= 0 {
		limit = defaultConcurrency
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		sem     = make(chan struct{}, limit)
		seen    = make(map[string]bool, len(refs))
		results = make(map[string]DigestResult, len(refs))
	)
	for _, ref := range refs {
		key := ref.Key()
		if seen[key] {
			continue
		}
		seen[key] = true
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				mu.Lock()
				results[key] = DigestResult{Ref: ref, Err: fmt.Errorf("look up the digest of %s: %w", ref, ctx.Err())}
				mu.Unlock()
				return
			}
			d, err := head(ctx, p, ref)
			mu.Lock()
			results[key] = DigestResult{Ref: ref, Digest: d, Err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return results, fmt.Errorf("look up digests of %d image references: %w", len(results), err)
	}
	return results, nil
}

// Tags lists the tags of repo's repository (repo's own tag and digest are
// ignored), in the order the registry gives them.
func (r *Registry) Tags(ctx context.Context, repo Ref) ([]string, error) {
	rr, err := repo.remoteRef()
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(rr.Context(), r.options(ctx)...)
	if err != nil {
		if kindOf(err) == fault.NotFound {
			return nil, &classified{
				kind:  fault.NotFound,
				msg:   fmt.Sprintf("repository %s not found: check the image name (and the mirror prefix, if any)", repo.Repository()),
				cause: err,
			}
		}
		return nil, registryError("list the tags of", repo, err)
	}
	return tags, nil
}
