package images

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/tarsup/tarsup/fault"
)

// classified is an error of one of fault's registry kinds (NotFound,
// Unauthorized, Unreachable). Why a type rather than
// fmt.Errorf("%w: %w"): the message reads as one sentence with its fix, while
// errors.Is still finds the kind and errors.As the cause.
type classified struct {
	kind  *fault.Kind
	msg   string
	cause error
}

func (e *classified) Error() string   { return e.msg }
func (e *classified) Unwrap() []error { return []error{e.kind, e.cause} }

// kindOf classifies a failure from go-containerregistry, the network stack or
// the Docker Engine (whose registry errors are often only text). It returns
// nil for anything else, including a cancelled context.
func kindOf(err error) *fault.Kind {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return fault.NotFound
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fault.Unauthorized
			}
		}
		switch {
		case terr.StatusCode == http.StatusNotFound:
			return fault.NotFound
		case terr.StatusCode == http.StatusUnauthorized, terr.StatusCode == http.StatusForbidden:
			return fault.Unauthorized
		case retryStatus(terr.StatusCode):
			// Busy or failing still after the retries: nothing could be
			// compared, so nothing may change (exit 2, as unreachable).
			return fault.Unreachable
		}
		return nil
	}
	var (
		dnsErr   *net.DNSError
		opErr    *net.OpError
		certErr  *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		netError net.Error
	)
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &certErr),
		errors.As(err, &authErr), errors.As(err, &hostErr), errors.As(err, &invErr),
		errors.As(err, &recErr):
		return fault.Unreachable
	case errors.As(err, &netError) && netError.Timeout():
		return fault.Unreachable
	case cerrdefs.IsNotFound(err):
		return fault.NotFound
	case cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err):
		return fault.Unauthorized
	}
	return kindOfMessage(err.Error())
}

// kindOfMessage classifies the text of an error the Docker Engine reports
// while pulling, inside the progress stream or as the call's error, e.g.
// "manifest for reg:5000/x:v9 not found: manifest unknown" or
// "pull access denied for x, repository does not exist or may require 'docker login'".
func kindOfMessage(msg string) *fault.Kind {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("unauthorized", "access denied", "denied:", "authentication required", "no basic auth credentials", "incorrect username or password"):
		return fault.Unauthorized
	case has("no such host", "connection refused", "dial tcp", "i/o timeout", "tls:", "x509:", "tls handshake",
		"server gave http response to https client", "no route to host", "network is unreachable", "connection reset"):
		return fault.Unreachable
	case has("manifest unknown", "name unknown", "not found"):
		return fault.NotFound
	}
	return nil
}

// registryError turns err from an operation on ref into a classified error
// whose message names the reference and the fix; other errors are wrapped
// with op.
func registryError(op string, ref Ref, err error) error {
	kind := kindOf(err)
	var msg string
	switch kind {
	case fault.NotFound:
		if ref.Tag() == "" {
			msg = fmt.Sprintf("manifest %s not found in %s: check the digest, or name the image by tag", ref.Digest(), ref.Repository())
		} else {
			msg = fmt.Sprintf("tag %s not found in %s: check the tag with the registry, or pass --to (or --framework-image/--node-image) with an existing tag", ref.Tag(), ref.Repository())
		}
	case fault.Unauthorized:
		msg = fmt.Sprintf("registry %s denied access to %s (%v): log in with `docker login %s` (tarsup reads the Docker config and its credential helpers); "+
			"some registries, Docker Hub among them, also answer this way for a repository that does not exist, so check the name",
			ref.Domain(), ref, err, ref.Domain())
	case fault.Unreachable:
		if busy, ok := busyError(err); ok {
			msg = fmt.Sprintf("registry %s answered %s for %s, through tarsup's retries (--registry-retries) or with a Retry-After over %s: it is overloaded, failing or limiting requests; "+
				"try later, log in (Docker Hub limits anonymous requests the most) or use a mirror (--registry-mirror)", ref.Domain(), busy, ref, MaxRetryAfter)
			break
		}
		msg = fmt.Sprintf("registry %s unreachable for %s (%v): check the registry address, that it is running and reachable from here (DNS, proxy, firewall), and its TLS certificate",
			ref.Domain(), ref, err)
	default:
		return fmt.Errorf("%s %s: %w", op, ref, err)
	}
	return &classified{kind: kind, msg: msg, cause: err}
}

// busyError returns the status of a registry answer that says "busy or
// failing" (429, 5xx), as "429 Too Many Requests".
func busyError(err error) (string, bool) {
	var terr *transport.Error
	if !errors.As(err, &terr) || !retryStatus(terr.StatusCode) {
		return "", false
	}
	return fmt.Sprintf("%d %s", terr.StatusCode, http.StatusText(terr.StatusCode)), true
}
