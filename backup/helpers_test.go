package backup

import "github.com/tarsup/tarsup/orchestrator/engine"

func engineSpec(url, ca string) engine.HostSpec {
	return engine.HostSpec{URL: url, TLS: engine.TLSOptions{Verify: true, CACert: ca}}
}
