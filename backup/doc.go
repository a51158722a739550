// Package backup is the data safety built on package tarsdb: a verified
// snapshot of a deployment's databases before every framework upgrade (the
// orchestrator's Snapshots hook), `tarsup backup` (the same snapshot on its
// own) and `tarsup restore` (verify a snapshot, stop the deployment's
// framework containers, load it, start and gate them again).
//
// A deployment is one database: the database container on one engine,
// named "DB on HOST". A snapshot is two files in DIR/<host>--<DB>/: the
// dump, <UTC time>-<framework version>.sql.gz (gzip, mode 0600), and its
// manifest, the same name with .json. Both are written under temporary
// names and renamed only once the dump is complete and verified: the file
// re-read, its SHA-256 and sizes the ones written, the gzip stream
// complete, and the dump's last line the dump tool's completion marker.
// No password is ever in a file, a log, a report or on a command line.
package backup
