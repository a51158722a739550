package images

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fault"
)

// defaultConcurrency bounds the parallel look-ups of a Registry when
// Registry.Concurrency is not set.
const defaultConcurrency = 8

// Registry asks container registries about images without pulling them. The
// zero value is ready to use: it reads credentials from the Docker config and
// its credential helpers, and retries nothing. Registries on 127.0.0.0/8 and
// localhost are spoken to in plain HTTP, as the Docker Engine does.
//
// A Registry is one run's: it remembers every answer (one manifest HEAD per
// repository:tag, one tag list per repository, however many engines and
// callers ask) and counts its retries. A daemon takes a Fresh one per turn.
// Set the fields before the first look-up; use it by pointer.
type Registry struct {
	// Keychain resolves credentials per registry; nil means
	// authn.DefaultKeychain (the Docker config and its credential helpers).
	Keychain authn.Keychain
	// Transport carries the HTTP requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Concurrency bounds how many look-ups run at once; 0 means 8.
	Concurrency int
	// Retries is how many times one request answered 429 or a 5xx (or cut
	// by a connection reset) is sent again (--registry-retries; the
	// commands default to DefaultRetries); 0 sends each once.
	Retries int
	// Mirrors are Docker Hub mirrors (ParseMirror's form), asked in order
	// for the manifest HEADs of Docker Hub images before Docker Hub itself,
	// which is asked when every mirror failed. Tag lists go to Docker Hub:
	// a pull-through mirror lists only the tags it has cached.
	Mirrors []string
	// Log receives a warning per retry and per mirror that failed; nil
	// logs nothing.
	Log logrus.FieldLogger

	mu  sync.Mutex
	run *lookups
}

// lookups is a Registry's state for its run: the shared puller (one
// authentication per repository), the bound on parallel requests, the
// answers and the retry count.
type lookups struct {
	puller  *remote.Puller
	sem     chan struct{}
	mu      sync.Mutex // guards digests and tags
	digests map[string]*answer
	tags    map[string]*answer
	retries atomic.Int64
}

// answer is one look-up, under way until done is closed.
type answer struct {
	done   chan struct{}
	digest string
	tags   []string
	err    error
}

// Fresh returns a Registry with r's settings and nothing remembered or
// counted: the next run's (watch's next turn).
func (r *Registry) Fresh() *Registry {
	return &Registry{Keychain: r.Keychain, Transport: r.Transport, Concurrency: r.Concurrency, Retries: r.Retries,
		Mirrors: append([]string(nil), r.Mirrors...), Log: r.Log}
}

// RetryCount is how many requests this Registry sent again so far (0 for
// a nil Registry).
func (r *Registry) RetryCount() int {
	if r == nil {
		return 0
	}
	st, err := r.state()
	if err != nil {
		return 0
	}
	return int(st.retries.Load())
}

// state sets up the run's state on first use.
func (r *Registry) state() (*lookups, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.run != nil {
		return r.run, nil
	}
	st := &lookups{digests: map[string]*answer{}, tags: map[string]*answer{}}
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	inner := r.Transport
	if inner == nil {
		inner = remote.DefaultTransport
	}
	p, err := remote.NewPuller(
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("tarsup"),
		remote.WithTransport(newRetryTransport(inner, r.Retries, &st.retries, r.Log)),
		// Why off: retryTransport retries (see there); the library's would
		// multiply its attempts.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(func(error) bool { return false }),
	)
	if err != nil {
		return nil, fmt.Errorf("set up registry client: %w", err)
	}
	limit := r.Concurrency
	if limit <= 0 {
		limit = defaultConcurrency
	}
	st.puller, st.sem = p, make(chan struct{}, limit)
	r.run = st
	return st, nil
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

// Digest returns the digest of the manifest ref's tag points to now, asked
// with one manifest HEAD request (no download, and no pull counted by
// registries that limit them), of a mirror first for a Docker Hub image.
// For a multi-platform image this is the index digest, the one `docker
// pull` records in RepoDigests. A ref with only a digest is checked for
// existence and its digest returned. The answer is remembered: the same
// repository:tag is asked once per Registry.
func (r *Registry) Digest(ctx context.Context, ref Ref) (string, error) {
	st, err := r.state()
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", ref, err)
	}
	a, mine := st.claim(st.digests, ref.Key())
	if mine {
		a.digest, a.err = r.headVia(ctx, st, ref)
		close(a.done)
	}
	select {
	case <-a.done:
		return a.digest, a.err
	case <-ctx.Done():
		return "", fmt.Errorf("look up the digest of %s: %w", ref, ctx.Err())
	}
}

// claim returns the answer under key, and whether the caller must find it
// (the first to ask) or wait for it.
func (st *lookups) claim(m map[string]*answer, key string) (*answer, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if a, ok := m[key]; ok {
		return a, false
	}
	a := &answer{done: make(chan struct{})}
	m[key] = a
	return a, true
}

// headVia asks the mirrors (for a Docker Hub image) and then the origin,
// within the bound on parallel requests.
func (r *Registry) headVia(ctx context.Context, st *lookups, ref Ref) (string, error) {
	release, err := st.acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("look up the digest of %s: %w", ref, err)
	}
	defer release()
	var tried []string
	if ref.onDockerHub() {
		for _, m := range r.Mirrors {
			d, err := headMirror(ctx, st.puller, ref, m)
			if err == nil {
				return d, nil
			}
			if ctx.Err() != nil {
				return "", fmt.Errorf("look up the digest of %s: %w", ref, ctx.Err())
			}
			tried = append(tried, m+": "+firstLine(err.Error()))
			if r.Log != nil {
				r.Log.WithFields(logrus.Fields{"mirror": m, "image": ref.String()}).Warnf("registry mirror failed, trying the next (or Docker Hub): %v", err)
			}
		}
	}
	d, err := head(ctx, st.puller, ref)
	if err != nil && len(tried) > 0 {
		return "", fmt.Errorf("%w (the mirrors failed too: %s)", err, strings.Join(tried, "; "))
	}
	return d, err
}

// acquire takes one of the parallel request slots; release gives it back.
func (st *lookups) acquire(ctx context.Context) (release func(), err error) {
	select {
	case st.sem <- struct{}{}:
		return func() { <-st.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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

func headMirror(ctx context.Context, p *remote.Puller, ref Ref, mirror string) (string, error) {
	rr, err := ref.mirrorRef(mirror)
	if err != nil {
		return "", err
	}
	desc, err := p.Head(ctx, rr)
	if err != nil {
		return "", fmt.Errorf("mirror %s: %w", mirror, err)
	}
	return desc.Digest.String(), nil
}

// Digests looks up the current digest of every distinct repository:tag among
// refs, once each and in parallel (at most Concurrency at a time), sharing
// authentication per repository. The results are keyed by Ref.Key; a failed
// lookup is reported in its result, so that one missing tag does not hide the
// others. The error is non-nil only when ctx ended before every lookup did.
func (r *Registry) Digests(ctx context.Context, refs []Ref) (map[string]DigestResult, error) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results = make(map[string]DigestResult, len(refs))
	)
	for _, ref := range refs {
		key := ref.Key()
		mu.Lock()
		_, seen := results[key]
		if !seen {
			results[key] = DigestResult{Ref: ref}
		}
		mu.Unlock()
		if seen {
			continue
		}
		wg.Go(func() {
			d, err := r.Digest(ctx, ref)
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
// ignored), in the order the registry gives them; once per repository per
// Registry.
func (r *Registry) Tags(ctx context.Context, repo Ref) ([]string, error) {
	st, err := r.state()
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", repo.Repository(), err)
	}
	a, mine := st.claim(st.tags, repo.Repository())
	if mine {
		a.tags, a.err = listTags(ctx, st, repo)
		close(a.done)
	}
	select {
	case <-a.done:
		return append([]string(nil), a.tags...), a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("list the tags of %s: %w", repo.Repository(), ctx.Err())
	}
}

func listTags(ctx context.Context, st *lookups, repo Ref) ([]string, error) {
	rr, err := repo.remoteRef()
	if err != nil {
		return nil, err
	}
	release, err := st.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", repo.Repository(), err)
	}
	defer release()
	tags, err := st.puller.List(ctx, rr.Context())
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

// firstLine is s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
