// Package archtest holds the architecture test: the rules of DESIGN.md that
// a parser can check (function length, file length in orchestrator, what
// cmd/tarsup and the planner may import). It has no code of its own.
package archtest
