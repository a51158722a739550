package orchestrator

// The kinds of failure live in package fault, with their one mapping to exit
// codes; here errors are marked with fault.Mark and wrapped with %w naming
// the operation, the container and the host.
