// Package compose reads docker compose projects that describe Tars
// deployments, checks them against the Tars upgrade rules, and rewrites the
// image references of their services without touching anything else.
//
// The flow for a caller (the CLI, the orchestrator):
//
//	p, err := compose.Load(ctx, compose.Options{Files: files})   // *LoadError: exit 2
//	findings := compose.Validate(p)                               // HasErrors: exit 3
//	edits, err := compose.PlanImageEdits(p, map[string]string{"framework": "tarscloud/framework:v3.0.16"})
//	for _, e := range edits { fmt.Print(e.Diff()) }               // --dry-run
//	err = compose.Apply(edits)                                    // and compose.Restore(edits) on rollback
//
// Planning is pure: Load keeps a snapshot of every file it read, and
// PlanImageEdits works on that snapshot. Apply refuses to overwrite a file
// that changed on disk since it was loaded.
package compose
