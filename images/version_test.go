package images

import "testing"

func TestNewestVersion(t *testing.T) {
	tags := []string{"latest", "stable", "v2.4.26", "v3.0.15", "v3.0.16", "v3.0.20-hc1", "v3.0.17-rc1", "v3", "v3.1", "v4.0.0", "v3.0.9"}
	tests := []struct {
		name      string
		tags      []string
		current   string
		sameMajor bool
		want      string
		ok        bool
	}{
		{"newest in the same major", tags, "v3.0.15", true, "v3.0.16", true},
		{"newest of all", tags, "v3.0.15", false, "v4.0.0", true},
		{"numeric order, not lexical", []string{"v3.0.9", "v3.0.10", "v3.0.2"}, "v3.0.1", true, "v3.0.10", true},
		{"already newest", tags, "v3.0.16", true, "", false},
		{"current ahead of the registry", tags, "v3.0.99", true, "", false},
		{"pre-releases and aliases ignored", []string{"v3.0.16-rc1", "v3.0.16-hc20240101", "v3", "v3.1", "latest"}, "v3.0.15", true, "", false},
		{"tags without v, returned as written", []string{"3.0.15", "3.0.16", "latest"}, "3.0.15", true, "3.0.16", true},
		{"mixed spelling follows current (v)", []string{"3.0.16", "v3.0.16"}, "v3.0.15", true, "v3.0.16", true},
		{"mixed spelling follows current (no v)", []string{"v3.0.16", "3.0.16"}, "3.0.15", true, "3.0.16", true},
		{"current without v, tags with v", []string{"v3.0.16"}, "3.0.15", true, "v3.0.16", true},
		{"older major upgrades within itself", tags, "v2.4.0", true, "v2.4.26", true},
		{"current not a version", tags, "latest", false, "", false},
		{"pre-release current", []string{"v3.0.16"}, "v3.0.16-rc1", true, "v3.0.16", true},
		{"no tags", nil, "v3.0.15", false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NewestVersion(tt.tags, tt.current, tt.sameMajor)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NewestVersion(%q, %q, %v) = %q, %v; want %q, %v", tt.tags, tt.current, tt.sameMajor, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"v3.0.15", "v3.0.16", -1, true},
		{"v3.0.16", "3.0.16", 0, true},
		{"v3.0.10", "v3.0.9", 1, true},
		{"v3.0.16-rc1", "v3.0.16", -1, true},
		{"latest", "v3.0.16", 0, false},
		{"v3.0.16", "stable", 0, false},
		{"", "v3.0.16", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			got, ok := Compare(tt.a, tt.b)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Compare(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
			}
		})
	}
}
