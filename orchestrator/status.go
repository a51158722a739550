package orchestrator

import (
	"context"
	"sync"
)

// Health values in reports.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthStarting  = "starting"
	HealthStopped   = "stopped"
)

// StatusRow is one line of `tarsup status`; its JSON keys are a promise to
// operators' scripts: add, don't rename.
type StatusRow struct {
	Host    string   `json:"host"`
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Role    string   `json:"role"`
	Slave   bool     `json:"slave"`
	Image   string   `json:"image"`
	ImageID string   `json:"image_id"`
	Digest  string   `json:"digest"`
	Version string   `json:"version"`
	State   string   `json:"state"`
	Health  string   `json:"health"`
	Rebuild bool     `json:"rebuild"`
	IPs     []string `json:"ips"`
	// HealthDetail says why a container is unhealthy (the failed probe).
	HealthDetail string `json:"health_detail,omitempty"`
}

// Health tells how a container is doing: Docker's own status where the image
// has a HEALTHCHECK, otherwise the Tars probe. detail says why it is not healthy.
func (p *Prober) Health(ctx context.Context, h *Host, c Container) (health, detail string) {
	switch {
	case c.State == "restarting":
		return HealthStarting, "restarting"
	case !c.Running:
		return HealthStopped, ""
	case c.DockerHealth != "":
		return c.DockerHealth, ""
	}
	if err := p.Probe(ctx, h, c); err != nil {
		return HealthUnhealthy, err.Error()
	}
	return HealthHealthy, ""
}

// Status builds the status rows of every Tars container on every engine,
// probing in parallel.
func Status(ctx context.Context, p *Prober, states []HostState) []StatusRow {
	var rows []StatusRow
	type job struct {
		h   *Host
		c   Container
		row int
	}
	var jobs []job
	for _, s := range states {
		for _, c := range s.Containers {
			if !c.IsTars() {
				continue
			}
			rows = append(rows, StatusRow{
				Host: c.Host, Name: c.Name, ID: c.ShortID(), Role: string(c.Role), Slave: c.Slave,
				Image: c.Image, ImageID: short(c.ImageID), Digest: shortDigest(c.Digest()), Version: c.Version,
				State: c.State, Rebuild: c.Rebuild, IPs: nonNil(c.IPs),
			})
			jobs = append(jobs, job{h: s.Host, c: c, row: len(rows) - 1})
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[j.row].Health, rows[j.row].HealthDetail = p.Health(ctx, j.h, j.c)
		}()
	}
	wg.Wait()
	return rows
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// shortDigest returns "sha256:" and the first 12 hex digits.
func shortDigest(d string) string {
	if d == "" {
		return ""
	}
	return "sha256:" + short(d)
}
