package compose

import (
	"go.yaml.in/yaml/v3"
)

// Helpers over go.yaml.in/yaml/v3 nodes. Why nodes and not compose-go's model:
// the model says what the merged project means, the nodes say which bytes of
// which file say it, and rewriting must touch those bytes only.

// maxMergeDepth bounds merge-key recursion; real files nest two or three deep.
const maxMergeDepth = 32

// parseYAML parses the first document of a file and returns its root node
// (a DocumentNode), or nil for an empty file.
func parseYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, nil
	}
	return &doc, nil
}

// resolve follows aliases and unwraps documents.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < maxMergeDepth; i++ {
		switch n.Kind {
		case yaml.AliasNode:
			n = n.Alias
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

// lookup returns the value of key in mapping m with YAML merge-key semantics:
// an explicit key wins over merged ones wherever it appears, and among merged
// mappings (<<: [*a, *b]) the first wins. The result is alias-resolved, so it
// is the node whose bytes hold the value. Nil when m is not a mapping or the
// key is absent.
func lookup(m *yaml.Node, key string) *yaml.Node {
	return lookupDepth(m, key, 0)
}

func lookupDepth(m *yaml.Node, key string, depth int) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode || depth > maxMergeDepth {
		return nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, v)
			continue
		}
		if k.Kind == yaml.ScalarNode && k.Value == key {
			return resolve(v)
		}
	}
	for _, v := range merges {
		v = resolve(v)
		if v == nil {
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if found := lookupDepth(src, key, depth+1); found != nil {
				return found
			}
		}
	}
	return nil
}

// mappingKeys lists the keys of mapping m, merged keys included.
func mappingKeys(m *yaml.Node) []string {
	seen := map[string]bool{}
	var keys []string
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		n = resolve(n)
		if n == nil || depth > maxMergeDepth {
			return
		}
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				walk(c, depth+1)
			}
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if isMergeKey(k) {
				walk(n.Content[i+1], depth+1)
				continue
			}
			if k.Kind == yaml.ScalarNode && !seen[k.Value] {
				seen[k.Value] = true
				keys = append(keys, k.Value)
			}
		}
	}
	walk(m, 0)
	return keys
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Style == 0)
}

// serviceNode returns the mapping of service name in a compose document, or nil.
func serviceNode(doc *yaml.Node, name string) *yaml.Node {
	return lookup(lookup(doc, "services"), name)
}

// serviceNames lists the services a compose document defines.
func serviceNames(doc *yaml.Node) []string {
	return mappingKeys(lookup(doc, "services"))
}
