package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Puller is the one Docker Engine call Pull needs; *client.Client from
// github.com/docker/docker satisfies it.
type Puller interface {
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
}

var _ Puller = (*client.Client)(nil)

// Pull pulls ref on the engine behind p with auth (from PullAuth; "" for
// none) and returns the manifest digest the engine reports ("" if it reports
// none). Progress goes to progress: the terminal display docker pull shows
// when tty, otherwise one line per layer status change. A missing tag,
// refused credentials or an unreachable registry, whether the engine reports
// them as the call's error or inside the stream, give errors matching
// fault.NotFound, fault.Unauthorized or fault.Unreachable.
func Pull(ctx context.Context, p Puller, ref Ref, auth string, progress io.Writer, tty bool) (digest string, err error) {
	if progress == nil {
		progress = io.Discard
	}
	rc, err := p.ImagePull(ctx, ref.String(), image.PullOptions{RegistryAuth: auth})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return "", fmt.Errorf("pull %s: %w (check that the Docker Engine is running and --host is right)", ref, err)
		}
		return "", pullError(ref, err)
	}
	defer rc.Close()

	s := &pullStream{}
	if tty {
		var fd uintptr
		if f, ok := progress.(interface{ Fd() uintptr }); ok {
			fd = f.Fd()
		}
		err = jsonmessage.DisplayJSONMessagesStream(io.TeeReader(rc, s), progress, fd, true, nil)
	} else {
		s.out = progress
		_, err = io.Copy(s, rc)
	}
	if ferr := s.flush(); err == nil {
		err = ferr
	}
	switch {
	case s.err != nil:
		return "", pullError(ref, s.err)
	case err != nil:
		return "", fmt.Errorf("pull %s: read the engine's progress stream: %w", ref, err)
	}
	return s.digest, nil
}

// pullError classifies a pull failure; the engine reports most registry
// failures only as text, so the message is checked when the type says nothing.
func pullError(ref Ref, err error) error {
	if kindOf(err) == nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return registryError("pull", ref, err)
}

// pullStream reads the engine's pull progress, JSON messages one per line,
// as it is written to it: it keeps the digest and the first error and, when
// out is set, writes one line per layer status change.
type pullStream struct {
	out    io.Writer
	buf    []byte
	last   map[string]string // layer ID -> last status written
	digest string
	err    error
}

func (s *pullStream) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := s.buf[:i]
		s.buf = s.buf[i+1:]
		if err := s.line(line); err != nil {
			return 0, err
		}
	}
}

// flush handles a last message that has no newline.
func (s *pullStream) flush() error {
	line := s.buf
	s.buf = nil
	return s.line(line)
}

func (s *pullStream) line(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("bad progress message %q: %w", line, err)
		}
		if err := s.message(m); err != nil {
			return err
		}
	}
}

func (s *pullStream) message(m jsonmessage.JSONMessage) error {
	switch {
	case m.Error != nil:
		s.keepErr(m.Error)
	case m.ErrorMessage != "":
		s.keepErr(errors.New(m.ErrorMessage))
	case strings.HasPrefix(m.Status, "Digest: "):
		s.digest = strings.TrimSpace(strings.TrimPrefix(m.Status, "Digest: "))
	}
	if s.out == nil || m.Status == "" {
		return nil
	}
	if m.ID != "" {
		if s.last == nil {
			s.last = make(map[string]string)
		}
		if s.last[m.ID] == m.Status {
			return nil // a progress update of the same status
		}
		s.last[m.ID] = m.Status
		_, err := fmt.Fprintf(s.out, "%s: %s\n", m.ID, m.Status)
		return err
	}
	_, err := fmt.Fprintln(s.out, m.Status)
	return err
}

func (s *pullStream) keepErr(err error) {
	if s.err == nil {
		s.err = err
	}
}
