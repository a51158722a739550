package plan

import "testing"

func TestSnapshotLine(t *testing.T) {
	s := Snapshot{Host: "h1", DB: "tars-mysql", Databases: []string{"db_tars", "db_tars_web"}, Frameworks: []string{"tars-framework"}, Dir: "/b/h1--tars-mysql", Keep: 0}
	if got, want := s.Line(true), "h1 tars-mysql: snapshot db_tars, db_tars_web (database of tars-framework) to /b/h1--tars-mysql/, keep every snapshot"; got != want {
		t.Errorf("planned: %q\nwant %q", got, want)
	}
	s.File, s.Size, s.RawSize, s.Pruned = "/b/h1--tars-mysql/x.sql.gz", 1234, 5_600_000, []string{"old"}
	if got, want := s.Line(false), "tars-mysql: snapshot db_tars, db_tars_web: /b/h1--tars-mysql/x.sql.gz (1.2 kB, 5.6 MB of SQL), verified; pruned 1 older"; got != want {
		t.Errorf("taken: %q\nwant %q", got, want)
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1_500_000_000: "1.5 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
