// Package composefleet is the workflow of `tarsup compose status` and
// `tarsup compose upgrade`: docker compose projects, each on its own engine,
// upgraded as one fleet.
//
// Where each rule lives:
//
//   - which engine a project runs on, and the TLS conflicts between projects
//     on one engine: fleet.go (newFleet);
//   - which containers the orchestrator may touch, and the refusal of a
//     container elsewhere in the fleet that has the name of a project's
//     container: plan.go (planFleet);
//   - the sequence: lock, recover, observe (orchestrator.Upgrade's own, through
//     its Observed hook), plan the projects, write the files, upgrade: upgrade.go;
//   - which file edits stay after a failed upgrade: files.go (settle);
//   - which containers a service has, for status: status.go (joinStatus).
//
// The package prints nothing of its own but warnings and progress, to the
// writers its options name; the CLI formats the reports.
package composefleet
