package orchestrator

import (
	"context"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tarsdb"
)

// TarsDBNodes reads t_node_info through package tarsdb: the framework's
// MYSQL_* variables name the database, and a short-lived client container
// on the database's engine runs the query (the password never on a
// command line).
type TarsDBNodes struct{}

// Locate finds the database of framework's deployment on h.
func (TarsDBNodes) Locate(ctx context.Context, h *engine.Host, framework plan.Container) (NodeSource, error) {
	t, err := tarsdb.LocateWith(ctx, h.Engine, framework.Inspect, tarsdb.LocateOptions{Host: h.Name()})
	if err != nil {
		return nil, err
	}
	return dbNodes{c: tarsdb.NewClient(h.Engine), t: t}, nil
}

// dbNodes is one deployment's database, located.
type dbNodes struct {
	c *tarsdb.Client
	t tarsdb.Target
}

// Nodes runs NodeInfoQuery: one client container.
func (d dbNodes) Nodes(ctx context.Context) ([]plan.NodeRow, error) {
	rows, err := d.c.Query(ctx, d.t, NodeInfoQuery)
	if err != nil {
		return nil, err
	}
	return ParseNodeRows(rows)
}
