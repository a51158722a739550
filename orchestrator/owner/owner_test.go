package owner

import (
	"os"
	"testing"
	"time"
)

func TestOwnerLive(t *testing.T) {
	self := ThisProcess()
	if self.Start == "" {
		t.Fatal("no start time for this process in /proc")
	}
	parent := Owner{Machine: self.Machine, PID: os.Getppid(), Start: ProcStart(os.Getppid())}
	now := time.Now()
	tests := []struct {
		name  string
		owner Owner
		start time.Time
		want  bool
	}{
		{"our own earlier swap", self, now, false},
		{"another live process here", parent, now, true},
		{"a dead process here (PID reused or gone)", Owner{Machine: self.Machine, PID: parent.PID, Start: "1"}, now, false},
		{"another machine, recent", Owner{Machine: "elsewhere", PID: 1, Start: "5"}, now.Add(-time.Minute), true},
		{"another machine, stale", Owner{Machine: "elsewhere", PID: 1, Start: "5"}, now.Add(-StaleAfter - time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back, ok := ParseOwner(tt.owner.String())
			if !ok || back != tt.owner {
				t.Fatalf("ParseOwner(%q) = %+v, %v", tt.owner.String(), back, ok)
			}
			if got := tt.owner.Live(self, tt.start, now); got != tt.want {
				t.Errorf("Live = %v, want %v", got, tt.want)
			}
		})
	}
}
