package plan

import (
	"sort"
	"strings"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/swapname"
)

// InScope is the one rule for which containers an upgrade or a refresh
// considers: framework, node and web containers, never a swap's temporary
// name, limited to only when it names any. A database container is in the
// result only when only names it, for the caller to refuse. missing lists,
// sorted, the names in only that match no container. It is pure.
func InScope(states []HostState, only []string) (scope []Container, missing []string) {
	want := map[string]bool{}
	for _, n := range only {
		want[strings.TrimPrefix(n, "/")] = false
	}
	for _, s := range states {
		for _, c := range s.Containers {
			if _, named := want[c.Name]; len(want) > 0 && !named {
				continue
			}
			if len(want) > 0 {
				want[c.Name] = true
			}
			switch c.Role {
			case images.RoleDB:
				if len(want) > 0 {
					scope = append(scope, c)
				}
			case images.RoleFramework, images.RoleNode, images.RoleWeb:
				if !swapname.IsTemporary(c.Name) {
					scope = append(scope, c)
				}
			}
		}
	}
	for n, found := range want {
		if !found {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return scope, missing
}
