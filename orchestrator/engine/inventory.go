package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tarsup/tarsup/fault"
	"go.yaml.in/yaml/v3"
)

// Inventory lists many engines with their own TLS material. Its file format
// (YAML; relative paths are relative to the file):
//
//	hosts:
//	  - name: master                 # how reports name it (default: the URL)
//	    url: tcp://10.0.0.5:2376
//	    tls: {ca: certs/ca.pem, cert: certs/master-cert.pem, key: certs/master-key.pem}
//	  - url: unix:///var/run/docker.sock
type Inventory struct {
	Hosts []InventoryHost `yaml:"hosts"`
}

// InventoryHost is one engine of an inventory.
type InventoryHost struct {
	Name     string        `yaml:"name"`
	URL      string        `yaml:"url"`
	TLS      *InventoryTLS `yaml:"tls"`
	Insecure bool          `yaml:"insecure"`
}

// InventoryTLS is one engine's TLS material; Verify defaults to true.
type InventoryTLS struct {
	CA     string `yaml:"ca"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
	Verify *bool  `yaml:"verify"`
}

// LoadInventory reads an inventory file into host specs.
func LoadInventory(path string) ([]HostSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("inventory %s: %w", path, err))
	}
	var inv Inventory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&inv); err != nil && !errors.Is(err, io.EOF) {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("inventory %s: %w (see the README's inventory example)", path, err))
	}
	if len(inv.Hosts) == 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("inventory %s lists no hosts: add a `hosts:` list with a `url:` each", path))
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	names := map[string]bool{}
	var specs []HostSpec
	for i, h := range inv.Hosts {
		if h.URL == "" {
			return nil, fault.Mark(fault.BadInput, fmt.Errorf("inventory %s: host #%d has no url", path, i+1))
		}
		s := HostSpec{URL: h.URL, Name: h.Name, Insecure: h.Insecure}
		if h.TLS != nil {
			s.TLS = TLSOptions{Enabled: true, Verify: h.TLS.Verify == nil || *h.TLS.Verify,
				CACert: rel(h.TLS.CA), Cert: rel(h.TLS.Cert), Key: rel(h.TLS.Key)}
		}
		if names[s.Label()] {
			return nil, fault.Mark(fault.BadInput, fmt.Errorf("inventory %s: host %s is listed twice", path, s.Label()))
		}
		names[s.Label()] = true
		if err := ValidateHost(s); err != nil {
			return nil, fmt.Errorf("inventory %s: %w", path, err)
		}
		specs = append(specs, s)
	}
	return specs, nil
}
