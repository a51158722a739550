package swapname

import "testing"

func TestIsTemporary(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"tars-framework", false},
		{"tars-framework" + New, true},
		{"tars-framework" + Old, true},
		{"tars-framework" + Failed, true},
		{"/tars-node" + Old, true},
		{"tars-node.tarsup-oldish", false},
		{"tarsup-lock", false},
		{".tarsup-new.backup", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTemporary(tt.name); got != tt.want {
				t.Errorf("IsTemporary(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
