package plan

import (
	"strings"
	"testing"

	"github.com/tarsup/tarsup/images"
)

func TestInScope(t *testing.T) {
	c := func(host, name string, role images.Role) Container {
		return Container{Host: host, Name: name, Role: role}
	}
	states := []HostState{
		{Containers: []Container{
			c("h1", "tars-framework", images.RoleFramework),
			c("h1", "tars-mysql", images.RoleDB),
			c("h1", "tars-node", images.RoleNode),
			c("h1", "tars-node.tarsup-old", images.RoleNode),
			c("h1", "nginx", images.RoleNone),
		}},
		{Containers: []Container{
			c("h2", "tars-web", images.RoleWeb),
			c("h2", "tars-node-2.tarsup-new", images.RoleNode),
		}},
	}
	names := func(cs []Container) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Host+"/"+c.Name)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name          string
		only          []string
		want, missing string
	}{
		{name: "everything Tars but the db and the temporary names",
			want: "h1/tars-framework h1/tars-node h2/tars-web"},
		{name: "only limits, with or without a slash", only: []string{"/tars-node", "tars-web"},
			want: "h1/tars-node h2/tars-web"},
		{name: "a named db is in scope, for the caller to refuse", only: []string{"tars-mysql"},
			want: "h1/tars-mysql"},
		{name: "a named temporary name is found but not in scope", only: []string{"tars-node.tarsup-old"}},
		{name: "a named non-Tars container is found but not in scope", only: []string{"nginx"}},
		{name: "unknown names, sorted", only: []string{"zz", "tars-framework", "aa"},
			want: "h1/tars-framework", missing: "aa zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope, missing := InScope(states, tt.only)
			if got := names(scope); got != tt.want {
				t.Errorf("scope %q, want %q", got, tt.want)
			}
			if got := strings.Join(missing, " "); got != tt.missing {
				t.Errorf("missing %q, want %q", got, tt.missing)
			}
		})
	}
}
