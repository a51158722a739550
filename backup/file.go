package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tarsup/tarsup/fault"
)

// CompletionMarker starts the last line of a complete dump: mysqldump and
// mariadb-dump write it once everything else is out ("-- Dump completed",
// with the date unless --skip-dump-date).
const CompletionMarker = "-- Dump completed"

// dumpFile streams a dump into a temporary file of its directory:
// compressed, its SHA-256 and both sizes counted as it goes.
type dumpFile struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	gz   *gzip.Writer
	sum  hash.Hash
	size counter // what reaches the file
	raw  counter // the SQL
}

// counter counts the bytes written through it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// createDump opens a new temporary dump file in dir, mode 0600.
func createDump(dir string) (*dumpFile, error) {
	f, err := os.CreateTemp(dir, ".snapshot-*.tmp")
	if err != nil {
		return nil, err
	}
	d := &dumpFile{path: f.Name(), f: f, sum: sha256.New()}
	d.buf = bufio.NewWriterSize(io.MultiWriter(f, d.sum, &d.size), 256<<10)
	d.gz = gzip.NewWriter(d.buf)
	return d, nil
}

// Write compresses p into the file.
func (d *dumpFile) Write(p []byte) (int, error) {
	n, err := d.gz.Write(p)
	d.raw.n += int64(n)
	return n, err
}

// finish ends the gzip stream and syncs the file to disk.
func (d *dumpFile) finish() error {
	if err := d.gz.Close(); err != nil {
		return err
	}
	if err := d.buf.Flush(); err != nil {
		return err
	}
	if err := d.f.Sync(); err != nil {
		return err
	}
	return d.f.Close()
}

// abort removes the temporary file.
func (d *dumpFile) abort() {
	_ = d.f.Close()
	_ = os.Remove(d.path)
}

// digest is the SHA-256 written, in hex.
func (d *dumpFile) digest() string { return hex.EncodeToString(d.sum.Sum(nil)) }

// Found is what reading a dump file back shows.
type Found struct {
	Size, RawSize int64
	SHA256        string
	// LastLine is the SQL's last non-empty line.
	LastLine string
	// GzipErr is why the gzip stream is not complete (nil when it is).
	GzipErr error
	// SQLErr is the first statement a restore must not run (nil: none).
	SQLErr error
}

// readBack reads a dump file whole: its checksum and size, and, through
// gzip, the SQL's size and last line, and whether a statement in it names
// a database outside databases (see sqlScan).
func readBack(ctx context.Context, path string, databases []string) (Found, error) {
	f, err := openRegular(path)
	if err != nil {
		return Found{}, err
	}
	defer f.Close()
	return readFrom(ctx, f, databases)
}

// readFrom is readBack of an open file, from where it is.
func readFrom(ctx context.Context, f io.Reader, databases []string) (Found, error) {
	sum := sha256.New()
	var size counter
	in := io.TeeReader(bufio.NewReaderSize(ctxReader{ctx, f}, 256<<10), io.MultiWriter(sum, &size))
	var found Found
	var tail tailWriter
	scan := newSQLScan(databases)
	zr, err := gzip.NewReader(in)
	if err == nil {
		var raw counter
		_, err = io.Copy(io.MultiWriter(&raw, &tail, scan), zr)
		found.RawSize = raw.n
	}
	found.SQLErr = scan.err()
	if ctx.Err() != nil {
		return Found{}, ctx.Err()
	}
	found.GzipErr = err
	// Why read to the end: the checksum covers the whole file, even past
	// a broken gzip stream.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return Found{}, err
	}
	found.Size, found.SHA256, found.LastLine = size.n, hex.EncodeToString(sum.Sum(nil)), tail.lastLine()
	return found, nil
}

// openRegular opens path for reading if it is a regular file (a symbolic
// link to one included): a directory, a device or a FIFO (whose open
// would wait for a writer) is refused before it is opened.
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	return os.Open(path)
}

// ctxReader ends a read of a file (a dump can be gigabytes) once ctx is
// cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// tailWriter keeps the last bytes written: enough for a dump's last line.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	const keep = 4096
	t.b = append(t.b, p...)
	if len(t.b) > keep {
		t.b = append(t.b[:0], t.b[len(t.b)-keep:]...)
	}
	return len(p), nil
}

func (t *tailWriter) lastLine() string {
	lines := bytes.Split(bytes.TrimRight(t.b, "\r\n\t "), []byte("\n"))
	return string(bytes.TrimSpace(lines[len(lines)-1]))
}

// verify reads the dump file at path back and checks it against what the
// manifest says: complete gzip, checksum, sizes, and the completion
// marker last. Its errors are bad input (exit 2) and say what is wrong.
func verify(ctx context.Context, path string, m Manifest) error {
	found, err := readBack(ctx, path, m.Databases)
	if err != nil {
		return kept(fmt.Errorf("snapshot %s: read it: %w", path, err))
	}
	return checkFound(path, m, found)
}

// checkFound compares what was read back with the manifest.
func checkFound(path string, m Manifest, f Found) error {
	var why string
	switch {
	case f.GzipErr != nil && f.Size < m.Size:
		why = fmt.Sprintf("it holds %d bytes, the manifest says %d, and its gzip stream ends early (%v): the file is truncated", f.Size, m.Size, f.GzipErr)
	case f.GzipErr != nil:
		why = fmt.Sprintf("it is not a complete gzip stream (%v): the file is corrupt", f.GzipErr)
	case f.SHA256 != m.SHA256:
		why = fmt.Sprintf("its SHA-256 is %s, the manifest says %s (the file changed since the snapshot)", f.SHA256, m.SHA256)
	case f.Size != m.Size || f.RawSize != m.RawSize:
		why = fmt.Sprintf("it holds %d bytes (%d of SQL), the manifest says %d (%d)", f.Size, f.RawSize, m.Size, m.RawSize)
	case !strings.HasPrefix(f.LastLine, CompletionMarker):
		why = fmt.Sprintf("its last line is %q, not the dump tool's %q (the dump did not finish)", f.LastLine, CompletionMarker)
	case f.SQLErr != nil:
		why = fmt.Sprintf("it holds a statement no restore of the Tars databases runs (%v): it is not a snapshot tarsup took, or it was edited", f.SQLErr)
	}
	if why == "" {
		return nil
	}
	return fault.Mark(fault.BadInput, fmt.Errorf("snapshot %s is refused: %s", path, why))
}

// Verify checks a snapshot (the dump or its manifest): the manifest, then
// the dump read back whole against it. It returns the manifest and the
// dump's path. Nothing is contacted.
func Verify(ctx context.Context, path string) (Manifest, string, error) {
	m, f, err := verifyOpen(ctx, path)
	if err != nil {
		return Manifest{}, "", err
	}
	defer f.Close()
	return m, f.Name(), nil
}

// verifyOpen is Verify that returns the dump open, rewound: what a
// restore then loads is what was verified, even if the file's name comes
// to be another file's meanwhile.
func verifyOpen(ctx context.Context, path string) (Manifest, *os.File, error) {
	m, err := ReadManifest(path)
	if err != nil {
		return Manifest{}, nil, err
	}
	mp := ManifestPath(path)
	// Why resolve: a link to a manifest (latest.json) names the dump
	// beside the manifest it links to.
	if real, err := filepath.EvalSymlinks(mp); err == nil {
		mp = real
	}
	dump := filepath.Join(filepath.Dir(mp), filepath.Base(m.File))
	f, err := openRegular(dump)
	if err != nil {
		return Manifest{}, nil, kept(fmt.Errorf("snapshot %s: read it: %w", dump, err))
	}
	found, err := readFrom(ctx, f, m.Databases)
	if err == nil {
		err = checkFound(dump, m, found)
	} else {
		err = kept(fmt.Errorf("snapshot %s: read it: %w", dump, err))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return Manifest{}, nil, err
	}
	return m, f, nil
}
